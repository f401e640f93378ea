// Bank staff's side of notifications: templates (list, history, save a version, preview a draft),
// notifications the pipeline held, skipped or failed, SMS statistics and the Twilio settings, as
// a JSON API under /api/staff (staff sessions only). The console that uses it: console-routes.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { isNotificationType, notificationType, NOTIFICATION_TYPE_IDS, type NotificationTypeId } from '../notifications/catalogue.ts';
import { listStoppedNotifications, MAX_STATS_DAYS, smsStats, STOPPED_STATUSES } from '../notifications/stats.ts';
import { previewDraft } from '../notifications/templates/preview.ts';
import {
  activeTemplate, previewTemplate, saveTemplate, templatesInForce, templateVersions, type TemplateInForce,
} from '../notifications/templates/store.ts';
import { publicSettings } from '../twilio-setup/settings.ts';
import { doc } from './openapi.ts';
import { parseInput, requireSession, requireStaff } from './session-auth.ts';

const language = z.string().regex(/^[a-z]{2,3}$/, 'a language code in lower case, e.g. en or es');
const channel = z.enum(['sms', 'email'], 'sms or email');
const templateParams = z.object({ type: z.string().max(64), language, channel });

const templateBody = z.strictObject({
  body: z.string().max(20_000),
  /** Email only. */
  subject: z.string().max(300).nullable().optional(),
});

const draftValue = z.union([
  z.string().max(200),
  z.number().finite(),
  z.strictObject({ minorUnits: z.union([z.string().max(20), z.number().int()]), currency: z.string().max(3) }),
]);
const previewBody = templateBody.extend({ values: z.record(z.string().max(64), draftValue).optional() });

const notificationsQuery = z.strictObject({
  status: z.enum(STOPPED_STATUSES, `one of ${STOPPED_STATUSES.join(', ')}`).optional(),
  type: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const statsQuery = z.strictObject({
  days: z.coerce.number().int().min(1).max(MAX_STATS_DAYS).default(7),
});

/** A type named in a URL: unknown is 404, like any missing resource, naming the known ones. */
function typeInPath(type: string): NotificationTypeId {
  if (!isNotificationType(type)) throw new AppError('not_found', `No notification type "${type}". Known types: ${NOTIFICATION_TYPE_IDS.join(', ')}.`);
  return type;
}

/** A template as the staff screens show it: its text, where it comes from, and what one send costs. */
function templateView(template: TemplateInForce) {
  const { preview } = template;
  return {
    type: template.type,
    title: notificationType(template.type).title,
    language: template.requestedLanguage,
    /** The language of the text served: English when the language asked for has none of its own. */
    servedLanguage: template.language,
    channel: template.channel,
    version: template.version,
    isDefault: template.source === 'default',
    subject: template.subject,
    body: template.body,
    savedAt: template.savedAt,
    example: preview.text,
    segments: preview.sms?.segments ?? null,
    encoding: preview.sms?.encoding ?? null,
    costPerSendUsd: preview.sms?.estimatedPrice ?? null,
  };
}

export function staffRoutes(app: FastifyInstance, ctx: AppContext): void {
  const session = requireSession(ctx);
  const preHandler = [session, async (request: FastifyRequest) => { requireStaff(request); }];
  const pricing = ctx.config.pricing;

  app.get('/api/staff/templates', { preHandler, schema: doc({ tag: 'staff', auth: 'staff', summary: 'Every template in force (type x language x channel) with segments and cost per send' }) }, async () => ({
    templates: (await templatesInForce(ctx)).map(templateView),
  }));

  app.get('/api/staff/templates/:type/:language/:channel', { preHandler, schema: doc({ tag: 'staff', auth: 'staff', summary: 'One template, its variables and its saved versions', params: templateParams, responses: { 200: 'the template', 404: 'unknown type, or the type has no such channel' } }) }, async (request) => {
    const params = parseInput(templateParams, request.params);
    const type = typeInPath(params.type);
    const spec = notificationType(type);
    const active = await activeTemplate(ctx.db, type, params.language, params.channel);
    const versions = await templateVersions(ctx.db, type, params.language, params.channel);
    return {
      template: templateView({ ...active, preview: previewTemplate(active, pricing) }),
      variables: spec.variables.map((v) => ({ name: v.name, kind: v.kind, description: v.description, example: v.example })),
      history: versions.map((v) => ({ version: v.version, subject: v.subject, body: v.body, savedAt: v.savedAt, savedBy: v.updatedByUsername })),
    };
  });

  app.put('/api/staff/templates/:type/:language/:channel', {
    preHandler,
    schema: doc({ tag: 'staff', auth: 'staff', summary: 'Save a new version of a template (variables checked; the answer shows segments, encoding and cost per send)', params: templateParams, body: templateBody, responses: { 200: 'the saved version, with a warning past one segment', 400: 'an unknown variable, a missing bank name or reply hint' } }),
  }, async (request) => {
    const staff = requireStaff(request);
    const params = parseInput(templateParams, request.params);
    const body = parseInput(templateBody, request.body);
    const saved = await saveTemplate(ctx, {
      type: typeInPath(params.type), language: params.language, channel: params.channel,
      body: body.body, subject: body.subject, updatedBy: staff.userId,
    });
    return { ...saved, costPerSendUsd: saved.estimatedPrice };
  });

  app.post('/api/staff/templates/:type/:language/:channel/preview', { preHandler, schema: doc({ tag: 'staff', auth: 'staff', summary: 'Render a draft with example values without saving it', params: templateParams, body: previewBody }) }, async (request) => {
    const params = parseInput(templateParams, request.params);
    const body = parseInput(previewBody, request.body);
    const preview = previewDraft(pricing, { type: typeInPath(params.type), language: params.language, channel: params.channel, ...body });
    return {
      ...preview,
      segments: preview.sms?.segments ?? null,
      encoding: preview.sms?.encoding ?? null,
      costPerSendUsd: preview.sms?.estimatedPrice ?? null,
    };
  });

  app.get('/api/staff/notifications', { preHandler, schema: doc({ tag: 'staff', auth: 'staff', summary: 'Notifications held, skipped or failed, with their reasons', query: notificationsQuery }) }, async (request) => {
    const query = parseInput(notificationsQuery, request.query);
    if (query.type !== undefined) notificationType(query.type);
    const found = await listStoppedNotifications(ctx.db, { statuses: query.status ? [query.status] : undefined, type: query.type, limit: query.limit });
    return { notifications: found };
  });

  app.get('/api/staff/sms/stats', { preHandler, schema: doc({ tag: 'staff', auth: 'staff', summary: 'SMS per day and per type: sent, delivered, failed, segments, cost, delivery rate; spend against the daily cap', query: statsQuery }) }, async (request) => {
    const query = parseInput(statsQuery, request.query);
    return smsStats(ctx.db, { days: query.days, now: ctx.clock.now(), limits: ctx.config.limits });
  });

  // What is configured, never a secret: credentials and numbers by their last 4 characters only.
  app.get('/api/staff/settings', { preHandler, schema: doc({ tag: 'staff', auth: 'staff', summary: 'The configuration, secrets shown by their last 4 characters only' }) }, async () => publicSettings(ctx.config));
}
