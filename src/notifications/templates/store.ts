// Templates staff edit: every save is a new version in notification_templates, checked before it
// is stored; the latest version is the one sent, else the repository default, else English.
import { and, asc, desc, eq, inArray, type SQL } from 'drizzle-orm';
import type { AppContext } from '../../context.ts';
import type { Queryable } from '../../db/connection.ts';
import { notificationTemplates, users } from '../../db/schema.ts';
import { AppError } from '../../errors.ts';
import { analyseSmsBody, type SmsBodyAnalysis, type SmsEncoding, type SmsPricing } from '../../sms/segments.ts';
import { CATALOGUE, notificationType, type Channel, type NotificationTypeId } from '../catalogue.ts';
import { DEFAULT_LANGUAGES, FALLBACK_LANGUAGE, defaultTemplate } from './defaults.ts';
import { languageOf, localeFor } from './format.ts';
import { checkTemplate, renderExample } from './render.ts';
import { recordAudit } from '../../audit/audit.ts';

/** Previews render dates in the bank's home zone; customers see theirs. */
export const PREVIEW_TIME_ZONE = 'America/New_York';

export interface ActiveTemplate {
  type: NotificationTypeId;
  channel: Channel;
  /** The language served: the one asked for, or English when that one has no template. */
  language: string;
  requestedLanguage: string;
  /** 0 for the repository default. */
  version: number;
  source: 'saved' | 'default';
  subject: string | null;
  body: string;
  updatedBy: string | null;
  savedAt: Date | null;
}

export interface TemplatePreview {
  /** The template filled with the type's example values. */
  text: string;
  /** SMS only: segments, encoding and estimated price of the example. */
  sms: SmsBodyAnalysis | null;
}

export interface SavedTemplate extends TemplatePreview {
  type: NotificationTypeId;
  language: string;
  channel: Channel;
  version: number;
  segments: number | null;
  encoding: SmsEncoding | null;
  estimatedPrice: number | null;
  /** Set when the SMS needs more than one segment: what it costs and what to change. */
  warning?: string;
}

export interface TemplateInput {
  type: string;
  language: string;
  channel: Channel;
  body: string;
  subject?: string | null;
  /** The staff member saving it. */
  updatedBy?: string | null;
}

type TemplateRow = typeof notificationTemplates.$inferSelect;

/** The primary language subtag of a code staff typed; AppError 'validation_failed' for anything else. */
export function checkLanguage(language: string): string {
  const lang = languageOf(language);
  if (!/^[a-z]{2,3}$/.test(lang)) throw new AppError('validation_failed', `"${language}" is not a language code; use e.g. en or es.`);
  return lang;
}

/** What a template looks like with example values and, for SMS, what it costs. */
export function previewTemplate(template: Pick<ActiveTemplate, 'type' | 'channel' | 'language' | 'body' | 'subject'>, pricing: SmsPricing): TemplatePreview {
  const spec = notificationType(template.type);
  const options = { locale: localeFor(template.language), timeZone: PREVIEW_TIME_ZONE };
  const body = renderExample(spec, template.body, options);
  if (template.channel === 'email') return { text: `${renderExample(spec, template.subject ?? '', options)}\n\n${body}`, sms: null };
  return { text: body, sms: analyseSmsBody(body, pricing) };
}

function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}

async function latestVersion(db: Queryable, type: string, language: string, channel: Channel): Promise<TemplateRow | undefined> {
  const [row] = await db
    .select()
    .from(notificationTemplates)
    .where(and(eq(notificationTemplates.type, type), eq(notificationTemplates.language, language), eq(notificationTemplates.channel, channel)))
    .orderBy(desc(notificationTemplates.version))
    .limit(1);
  return row;
}

/**
 * Checks and saves a new version of a template. Refuses (AppError 'validation_failed') unknown
 * variables, naming them and the allowed ones; reports segments and estimated price, with a warning
 * when an SMS needs more than one segment. Two saves racing for one version: AppError 'conflict'.
 */
export async function saveTemplate(ctx: Pick<AppContext, 'db' | 'config' | 'clock'>, input: TemplateInput): Promise<SavedTemplate> {
  const spec = notificationType(input.type);
  const language = checkLanguage(input.language);
  const subject = input.channel === 'email' ? (input.subject?.trim() ?? null) : null;
  checkTemplate(spec, { channel: input.channel, body: input.body, subject });
  const preview = previewTemplate({ type: spec.id, channel: input.channel, language, body: input.body, subject }, ctx.config.pricing);
  let version: number;
  try {
    version = await ctx.db.transaction(async (tx) => {
      const latest = await latestVersion(tx, spec.id, language, input.channel);
      const next = (latest?.version ?? 0) + 1;
      await tx.insert(notificationTemplates).values({
        type: spec.id, language, channel: input.channel, version: next, subject, body: input.body,
        updatedBy: input.updatedBy ?? null, createdAt: ctx.clock.now(),
      });
      // A staff edit changes what every customer reads: audited with the version it replaced.
      if (input.updatedBy) {
        await recordAudit(tx, {
          actor: { kind: 'staff', userId: input.updatedBy }, action: 'template.saved', subject: `template:${spec.id}/${language}/${input.channel}`, at: ctx.clock.now(),
          before: { version: latest?.version ?? 0, subject: latest?.subject ?? null, body: latest?.body ?? null },
          after: { version: next, subject, body: input.body },
        });
      }
      return next;
    });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    throw new AppError('conflict', `Someone saved the ${input.channel} template for ${spec.id} (${language}) at the same moment; reload it and save again.`, { cause: error });
  }
  const sms = preview.sms;
  const saved: SavedTemplate = {
    type: spec.id, language, channel: input.channel, version, ...preview,
    segments: sms?.segments ?? null, encoding: sms?.encoding ?? null, estimatedPrice: sms?.estimatedPrice ?? null,
  };
  const warning = sms && multiSegmentWarning(sms);
  if (warning) saved.warning = warning;
  return saved;
}

/** What an SMS of more than one segment costs and what to change; undefined for one segment. */
export function multiSegmentWarning(sms: SmsBodyAnalysis): string | undefined {
  if (sms.segments <= 1) return undefined;
  const cause = sms.encoding === 'UCS-2'
    ? `it is UCS-2 (70 characters a segment) because of ${sms.nonGsmCharacters.map((c) => `"${c}"`).join(' ')}; without them it could be GSM-7`
    : `it has ${sms.characters} characters; one segment holds 160`;
  return `With the example values this SMS needs ${sms.segments} segments, about $${sms.estimatedPrice.toFixed(4)} per message: ${cause}.`;
}

function fromRow(row: TemplateRow, requestedLanguage: string): ActiveTemplate {
  return {
    type: row.type as NotificationTypeId, channel: row.channel as Channel, language: row.language, requestedLanguage,
    version: row.version, source: 'saved', subject: row.subject, body: row.body, updatedBy: row.updatedBy, savedAt: row.createdAt,
  };
}

function fromDefault(type: NotificationTypeId, language: string, channel: Channel, requestedLanguage: string): ActiveTemplate | undefined {
  const text = defaultTemplate(type, language, channel);
  return text && { type, channel, language, requestedLanguage, version: 0, source: 'default', ...text, updatedBy: null, savedAt: null };
}

/**
 * The template to send: the latest saved version in the customer's language, else the repository
 * default in it, else the same two in English. Throws AppError 'not_found' for a channel the type
 * does not use (one-time codes have no email).
 */
export async function activeTemplate(db: Queryable, type: string, language: string, channel: Channel): Promise<ActiveTemplate> {
  const spec = notificationType(type);
  const requested = languageOf(language) || FALLBACK_LANGUAGE;
  for (const lang of [...new Set([requested, FALLBACK_LANGUAGE])]) {
    const row = await latestVersion(db, spec.id, lang, channel);
    if (row) return fromRow(row, requested);
    const fallback = fromDefault(spec.id, lang, channel, requested);
    if (fallback) return fallback;
  }
  throw new AppError('not_found', `${spec.title} has no ${channel} template: it is sent by ${spec.channels.join(' and ')} only.`);
}

export interface TemplateFilter {
  type?: string;
  language?: string;
  channel?: Channel;
}

/**
 * The active template of every type, language and channel matching the filter, resolved as
 * activeTemplate does (so a language without its own template shows the English one it gets), for
 * each default language and any language staff saved templates in.
 */
export async function listTemplates(db: Queryable, filter: TemplateFilter = {}): Promise<ActiveTemplate[]> {
  const specs = filter.type ? [notificationType(filter.type)] : CATALOGUE;
  const conditions: SQL[] = [inArray(notificationTemplates.type, specs.map((s) => s.id))];
  if (filter.channel) conditions.push(eq(notificationTemplates.channel, filter.channel));
  const latest = await db
    .selectDistinctOn([notificationTemplates.type, notificationTemplates.language, notificationTemplates.channel])
    .from(notificationTemplates)
    .where(and(...conditions))
    .orderBy(asc(notificationTemplates.type), asc(notificationTemplates.language), asc(notificationTemplates.channel), desc(notificationTemplates.version));
  const saved = new Map(latest.map((row) => [`${row.type}/${row.language}/${row.channel}`, row]));
  const languages = filter.language
    ? [checkLanguage(filter.language)]
    : [...new Set([...DEFAULT_LANGUAGES, ...latest.map((r) => r.language)])];
  const resolve = (type: NotificationTypeId, requested: string, channel: Channel): ActiveTemplate | undefined => {
    for (const lang of new Set([requested, FALLBACK_LANGUAGE])) {
      const row = saved.get(`${type}/${lang}/${channel}`);
      const template = row ? fromRow(row, requested) : fromDefault(type, lang, channel, requested);
      if (template) return template;
    }
    return undefined;
  };
  return specs.flatMap((spec) => languages.flatMap((language) => spec.channels
    .filter((channel) => !filter.channel || channel === filter.channel)
    .flatMap((channel) => resolve(spec.id, language, channel) ?? [])));
}

export type TemplateInForce = ActiveTemplate & { preview: TemplatePreview };

/** listTemplates with each template's example text, segments and estimated cost per send. */
export async function templatesInForce(ctx: Pick<AppContext, 'db' | 'config'>, filter: TemplateFilter = {}): Promise<TemplateInForce[]> {
  const active = await listTemplates(ctx.db, filter);
  return active.map((template) => ({ ...template, preview: previewTemplate(template, ctx.config.pricing) }));
}

export interface TemplateVersion extends ActiveTemplate {
  /** Username of the staff member who saved it, while that user exists. */
  updatedByUsername: string | null;
}

/** Every saved version of one template, latest first (the repository default, version 0, is not a row). */
export async function templateVersions(db: Queryable, type: string, language: string, channel: Channel): Promise<TemplateVersion[]> {
  const spec = notificationType(type);
  const lang = checkLanguage(language);
  const rows = await db
    .select({ template: notificationTemplates, username: users.username })
    .from(notificationTemplates)
    .leftJoin(users, eq(users.id, notificationTemplates.updatedBy))
    .where(and(eq(notificationTemplates.type, spec.id), eq(notificationTemplates.language, lang), eq(notificationTemplates.channel, channel)))
    .orderBy(desc(notificationTemplates.version));
  return rows.map((row) => ({ ...fromRow(row.template, lang), updatedByUsername: row.username }));
}
