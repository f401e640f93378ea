// A staff member's draft of a template, rendered as a customer would read it, without saving:
// the same checks as a save, the type's example values (or values staff typed, each checked
// against its variable's kind), and for SMS the segments, encoding and cost per send.
import { AppError } from '../../errors.ts';
import { analyseSmsBody, type SmsBodyAnalysis, type SmsPricing } from '../../sms/segments.ts';
import { notificationType, type Channel, type TemplateValue, type TemplateVariable } from '../catalogue.ts';
import { localeFor } from './format.ts';
import { checkTemplate, exampleValues, renderExample } from './render.ts';
import { checkLanguage, multiSegmentWarning, PREVIEW_TIME_ZONE } from './store.ts';

/** A value staff may type for a variable: text, a number, or money in minor units. */
export type DraftValue = string | number | { minorUnits: string | number; currency: string };

export interface TemplateDraftInput {
  type: string;
  language: string;
  channel: Channel;
  body: string;
  subject?: string | null;
  /** Values to show instead of the examples, by variable name. */
  values?: Readonly<Record<string, DraftValue>>;
}

export interface DraftPreview {
  /** The email subject, rendered; null for SMS. */
  subject: string | null;
  /** The body as the customer would read it. */
  text: string;
  /** SMS only: segments, encoding and estimated price per send. */
  sms: SmsBodyAnalysis | null;
  /** Set when the SMS needs more than one segment. */
  warning?: string;
}

function checkValue(variable: TemplateVariable, value: DraftValue): TemplateValue {
  const problem = (what: string) => new AppError('validation_failed', `values.${variable.name}: ${what} (example: ${JSON.stringify(variable.example)}).`);
  switch (variable.kind) {
    case 'code':
      throw problem('the code is minted when the SMS is sent, so it cannot be given; previews show the example code');
    case 'money':
      if (typeof value !== 'object' || !/^-?\d{1,15}$/.test(String(value.minorUnits)) || !/^[A-Z]{3}$/.test(value.currency)) {
        throw problem('needs { "minorUnits": an integer of cents, "currency": an ISO 4217 code such as USD }');
      }
      return { minorUnits: String(value.minorUnits), currency: value.currency };
    case 'date':
    case 'datetime':
    case 'month':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw problem('needs a date in ISO 8601, e.g. 2026-11-25T15:04:00Z');
      return value;
    case 'last4':
      if (typeof value === 'object' || !/^\d{4,19}$/.test(String(value))) throw problem('needs digits (only the last 4 are shown)');
      return String(value);
    case 'text':
      if (typeof value === 'object') throw problem('needs text');
      return String(value);
  }
}

/**
 * Renders a draft template; throws AppError 'validation_failed' for what a save would refuse
 * (unknown variables, a missing bank name, ...) and for a value that does not fit its variable.
 */
export function previewDraft(pricing: SmsPricing, input: TemplateDraftInput): DraftPreview {
  const spec = notificationType(input.type);
  const language = checkLanguage(input.language);
  const subject = input.channel === 'email' ? (input.subject ?? '') : null;
  checkTemplate(spec, { channel: input.channel, body: input.body, subject });
  const variables = new Map(spec.variables.map((v) => [v.name, v]));
  const values: Record<string, TemplateValue> = exampleValues(spec);
  for (const [name, value] of Object.entries(input.values ?? {})) {
    const variable = variables.get(name);
    if (!variable) {
      const allowed = spec.variables.filter((v) => v.kind !== 'code').map((v) => v.name).join(', ') || 'none';
      throw new AppError('validation_failed', `values.${name}: ${spec.id} has no such variable; it has: ${allowed}.`);
    }
    values[name] = checkValue(variable, value);
  }
  const options = { locale: localeFor(language), timeZone: PREVIEW_TIME_ZONE };
  const render = (text: string) => renderExample(spec, text, options, values);
  const text = render(input.body);
  if (input.channel === 'email') return { subject: render(subject ?? ''), text, sms: null };
  const sms = analyseSmsBody(text, pricing);
  const warning = multiSegmentWarning(sms);
  return { subject: null, text, sms, ...(warning && { warning }) };
}
