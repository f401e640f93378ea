// The default template set, kept in the repository and versioned with it. Staff edits are saved
// in the database (notification_templates) and win over these; a type or language staff never
// edited is served from here, so improving a default reaches every customer on deploy.
import type { Channel, NotificationTypeId } from '../catalogue.ts';
import { ENGLISH, type DefaultTemplate } from './english.ts';
import { SPANISH } from './spanish.ts';

/** Bump when a default text changes, so a message log or a preview can say which set it used. */
export const DEFAULT_TEMPLATES_REVISION = 1;

/** The language every type is guaranteed to have, and the fallback for any other. */
export const FALLBACK_LANGUAGE = 'en';

export const DEFAULT_TEMPLATES: Readonly<Record<string, Record<NotificationTypeId, DefaultTemplate>>> = {
  en: ENGLISH,
  es: SPANISH,
};

export const DEFAULT_LANGUAGES: readonly string[] = Object.keys(DEFAULT_TEMPLATES);

/**
 * Default SMS templates known to need more than one segment with their example values, each with
 * the reason. Empty today; a test fails on any default that grows past one segment unlisted.
 */
export const MULTI_SEGMENT_DEFAULTS: Readonly<Record<string, string>> = {};

export interface DefaultText {
  subject: string | null;
  body: string;
}

/** The repository default for one type, language and channel, if there is one. */
export function defaultTemplate(type: NotificationTypeId, language: string, channel: Channel): DefaultText | undefined {
  const template = DEFAULT_TEMPLATES[language]?.[type];
  if (!template) return undefined;
  if (channel === 'sms') return template.sms === undefined ? undefined : { subject: null, body: template.sms };
  return template.email ? { subject: template.email.subject, body: template.email.body } : undefined;
}
