// Templates: `{variable}` placeholders filled with values formatted for the customer, and the
// checks a template must pass before staff can save it (known variables only, a code message
// keeps its code and carries no link, an SMS names the bank first).
import { AppError } from '../../errors.ts';
import { CODE_PLACEHOLDER } from '../../sms/outbox.ts';
import { BANK_NAME, type Channel, type Money, type NotificationTypeSpec, type TemplateValue, type TemplateVariable } from '../catalogue.ts';
import { formatDate, formatMoneyValue, lastFour } from './format.ts';

/** Twilio refuses longer bodies (error 21617). */
export const MAX_SMS_CHARACTERS = 1_600;
const MAX_EMAIL_CHARACTERS = 20_000;

const PLACEHOLDER = /\{([^{}]*)\}/g;
const VARIABLE_NAME = /^[a-z][a-z0-9_]*$/;
// A link in a code message is the shape of phishing; customers are taught codes never come with one.
const LINK = /(https?:\/\/|www\.|\b[a-z0-9-]+\.(com|net|org|bank|app|io|co|us|ly)\b)/i;

export interface RenderOptions {
  /** BCP 47 locale of the customer, e.g. en-US. */
  locale: string;
  /** IANA time zone of the customer, e.g. America/New_York. */
  timeZone: string;
}

export type TemplateValues = Readonly<Record<string, TemplateValue | undefined>>;

/** The variable names a template uses, in order of first use. */
export function templateVariableNames(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1] ?? ''))];
}

function allowedList(spec: NotificationTypeSpec): string {
  return spec.variables.length ? spec.variables.map((v) => `{${v.name}}`).join(', ') : 'none';
}

export interface TemplateDraft {
  channel: Channel;
  body: string;
  /** Email only. */
  subject?: string | null;
}

/**
 * Refuses a template that could not be sent as written; throws AppError 'validation_failed' with
 * every problem found, each naming what to change.
 */
export function checkTemplate(spec: NotificationTypeSpec, draft: TemplateDraft): void {
  const problems: string[] = [];
  const where = `the ${draft.channel === 'sms' ? 'SMS' : 'email'} template for ${spec.id}`;
  if (!spec.channels.includes(draft.channel)) {
    throw new AppError('validation_failed', `${spec.title} is sent by ${spec.channels.join(' and ')} only, so it has no ${draft.channel} template.`);
  }
  const texts = draft.channel === 'email' ? [draft.subject ?? '', draft.body] : [draft.body];
  const stripped = texts.map((t) => t.replace(PLACEHOLDER, ''));
  if (stripped.some((t) => t.includes('{') || t.includes('}'))) {
    problems.push('it has a { or } that does not enclose a variable name; write variables as {name}');
  }
  const known = new Set(spec.variables.map((v) => v.name));
  const unknown = texts.flatMap(templateVariableNames).filter((name) => !known.has(name));
  for (const name of [...new Set(unknown)]) {
    const why = VARIABLE_NAME.test(name) ? 'is an unknown variable for' : 'is not a valid variable name for';
    problems.push(`{${name}} ${why} ${spec.id}; allowed: ${allowedList(spec)}`);
  }
  if (draft.body.trim() === '') problems.push('the body is empty');
  if (draft.channel === 'email' && !draft.subject?.trim()) problems.push('an email needs a subject');
  if (draft.channel === 'sms') {
    if (!draft.body.startsWith(BANK_NAME)) problems.push(`an SMS must start with the bank's name, "${BANK_NAME}", so customers can tell it from a spoof`);
    if (draft.body.length > MAX_SMS_CHARACTERS) problems.push(`an SMS may have at most ${MAX_SMS_CHARACTERS} characters (it has ${draft.body.length})`);
    if (spec.carriesCode) {
      const codes = draft.body.split(CODE_PLACEHOLDER).length - 1;
      if (codes !== 1) problems.push(`a code message must contain ${CODE_PLACEHOLDER} exactly once (it has ${codes})`);
      if (LINK.test(draft.body)) problems.push('a code message must never contain a link or web address');
    }
  } else if (draft.body.length > MAX_EMAIL_CHARACTERS) {
    problems.push(`an email body may have at most ${MAX_EMAIL_CHARACTERS} characters`);
  }
  if (problems.length) {
    throw new AppError('validation_failed', `Cannot save ${where}: ${problems.join('; ')}.`);
  }
}

function isMoney(value: TemplateValue): value is Money {
  return typeof value === 'object' && !(value instanceof Date) && 'currency' in value;
}

function textOf(variable: TemplateVariable, value: TemplateValue): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return value.toString();
  throw new Error(`{${variable.name}} needs text, not an object`);
}

function formatValue(variable: TemplateVariable, value: TemplateValue, options: RenderOptions): string {
  switch (variable.kind) {
    case 'money':
      if (!isMoney(value)) throw new Error(`{${variable.name}} needs { minorUnits, currency }`);
      return formatMoneyValue(value, options.locale);
    case 'last4':
      // Whatever the caller passes (even a full card number), only the last 4 digits leave.
      return lastFour(value as string);
    case 'date':
    case 'datetime':
    case 'month':
      return formatDate(value as Date | string, variable.kind, options.locale, options.timeZone);
    case 'code':
      return CODE_PLACEHOLDER;
    case 'text':
      return textOf(variable, value);
  }
}

/**
 * Fills a template. `{code}` is always left in place: the code is minted by the worker that sends
 * the SMS, so it never passes through here. Throws on a missing value (a bug in the caller).
 */
export function renderTemplate(spec: NotificationTypeSpec, text: string, values: TemplateValues, options: RenderOptions): string {
  const variables = new Map(spec.variables.map((v) => [v.name, v]));
  return text.replace(PLACEHOLDER, (whole, name: string, offset: number) => {
    const variable = variables.get(name);
    if (!variable) throw new Error(`template for ${spec.id} uses unknown variable ${whole}`);
    if (variable.kind === 'code') return CODE_PLACEHOLDER;
    const value = values[name];
    if (value === undefined) throw new Error(`no value for ${whole} in a ${spec.id} message`);
    const formatted = formatValue(variable, value, options);
    // A value that ends a sentence itself ("10:04 a.m.") takes the template's full stop: no "a.m..".
    return formatted.endsWith('.') && text[offset + whole.length] === '.' ? formatted.slice(0, -1) : formatted;
  });
}

/** Every variable of a type at its example value. */
export function exampleValues(spec: NotificationTypeSpec): Record<string, TemplateValue> {
  return Object.fromEntries(spec.variables.map((v) => [v.name, v.example]));
}

/** Renders with the type's example values (or the values given), and the code too (as the customer would see it). */
export function renderExample(spec: NotificationTypeSpec, text: string, options: RenderOptions, values: TemplateValues = exampleValues(spec)): string {
  const code = spec.variables.find((v) => v.kind === 'code');
  const rendered = renderTemplate(spec, text, values, options);
  return code ? rendered.replace(CODE_PLACEHOLDER, textOf(code, code.example)) : rendered;
}
