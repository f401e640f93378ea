// What a customer reads: the active template of a type and channel in their language, filled with
// their locale and the time zone their notifications follow.
import { eq } from 'drizzle-orm';
import type { Queryable } from '../db/connection.ts';
import { userProfiles } from '../db/schema.ts';
import type { Channel, NotificationTypeSpec } from './catalogue.ts';
import { getNotificationSettings } from './preferences.ts';
import { localeFor } from './templates/format.ts';
import { renderTemplate, type TemplateValues } from './templates/render.ts';
import { activeTemplate, type ActiveTemplate } from './templates/store.ts';

export interface ComposedMessage {
  /** Email only. */
  subject: string | null;
  body: string;
  /** The language the template was in (the customer's, or English when theirs has none). */
  language: string;
}

export async function customerLanguage(db: Queryable, userId: string): Promise<string> {
  const [profile] = await db.select({ language: userProfiles.language }).from(userProfiles).where(eq(userProfiles.userId, userId));
  return profile?.language ?? 'en';
}

/**
 * Renders a notification for one channel. An SMS of a code type keeps its {code} placeholder for
 * the worker that sends it. `known` saves the reads when the caller already has the customer's
 * language and time zone.
 */
export async function composeMessage(
  db: Queryable, spec: NotificationTypeSpec, channel: Channel, userId: string, values: TemplateValues,
  known?: { language: string; timeZone: string },
): Promise<ComposedMessage> {
  const language = known?.language ?? (await customerLanguage(db, userId));
  const zone = known?.timeZone ?? (await getNotificationSettings(db, userId)).timeZone;
  return renderComposed(spec, await activeTemplate(db, spec.id, language, channel), values, zone);
}

/** Fills a template already read (a batch of notifications reads each template once). */
export function renderComposed(
  spec: NotificationTypeSpec, template: Pick<ActiveTemplate, 'language' | 'subject' | 'body'>, values: TemplateValues, timeZone: string,
): ComposedMessage {
  const options = { locale: localeFor(template.language), timeZone };
  return {
    subject: template.subject === null ? null : renderTemplate(spec, template.subject, values, options),
    body: renderTemplate(spec, template.body, values, options),
    language: template.language,
  };
}
