// The staff API behind the console's profile, message-log and audit pages (staff sessions only):
// /api/staff/profiles (find, read, change the phone number, clear an unreachable mark, send a
// test SMS), /api/staff/messages (the log and each message's timeline) and /api/staff/audit.
// Routes parse, call the domain and shape; nothing here writes the audit log itself.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AUDIT_ACTIONS, listAudit } from '../audit/audit.ts';
import type { AppContext } from '../context.ts';
import { isUuid } from '../db/ids.ts';
import { AppError } from '../errors.ts';
import { listMessages, MAX_MESSAGE_PAGE, MESSAGE_LANES, messageTimeline } from '../staff/message-log.ts';
import { clearUnreachable, getProfile, listProfiles, MAX_PROFILE_PAGE, sendStaffTestSms } from '../staff/profiles.ts';
import { setPhoneNumber } from '../users/phone-number.ts';
import { doc } from './openapi.ts';
import { parseInput, requireSession, requireStaff } from './session-auth.ts';

const idParams = z.strictObject({ id: z.string().max(64) });
const date = z.iso.datetime({ offset: true, error: 'an ISO date-time, e.g. 2026-11-25T00:00:00Z' }).or(z.iso.date({ error: 'a date, e.g. 2026-11-25' })).transform((v) => new Date(v));

const profilesQuery = z.strictObject({
  q: z.string().max(150).optional(),
  after: z.string().max(150).optional(),
  limit: z.coerce.number().int().min(1, 'at least 1').max(MAX_PROFILE_PAGE, `at most ${MAX_PROFILE_PAGE}`).default(25),
});
const phoneBody = z.strictObject({ phoneNumber: z.string().max(64).nullable() });
const messagesQuery = z.strictObject({
  customer: z.string().max(150).optional(),
  type: z.string().max(64).optional(),
  status: z.string().max(32).optional(),
  lane: z.enum(MESSAGE_LANES, `one of ${MESSAGE_LANES.join(', ')}`).optional(),
  from: date.optional(),
  to: date.optional(),
  errorCode: z.coerce.number().int().min(1).max(99_999).optional(),
  before: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1, 'at least 1').max(MAX_MESSAGE_PAGE, `at most ${MAX_MESSAGE_PAGE}`).default(50),
});
const auditQuery = z.strictObject({
  user: z.string().max(150).optional(),
  action: z.enum(AUDIT_ACTIONS, `one of ${AUDIT_ACTIONS.join(', ')}`).optional(),
  from: date.optional(),
  to: date.optional(),
  /** The last entry of the previous page: its at and id. */
  beforeAt: z.iso.datetime({ offset: true }).optional(),
  beforeId: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export function staffConsoleRoutes(app: FastifyInstance, ctx: AppContext): void {
  const preHandler = [requireSession(ctx), async (request: FastifyRequest) => { requireStaff(request); }];
  const staff = { tag: 'staff', auth: 'staff' } as const;

  app.get('/api/staff/profiles', { preHandler, schema: doc({ ...staff, summary: 'Customer profiles by username: search by username, email or the last 4 digits of the phone; keyset pages (after = last username)', query: profilesQuery }) }, async (request) => {
    const query = parseInput(profilesQuery, request.query);
    const page = await listProfiles(ctx.db, query);
    return { ...page, nextAfter: page.more ? page.profiles[page.profiles.length - 1]?.username ?? null : null };
  });

  app.get('/api/staff/profiles/:id', { preHandler, schema: doc({ ...staff, summary: 'One customer profile: masked phone, verified, opted out, unreachable, cooling-off', params: idParams, responses: { 200: 'the profile', 404: 'no such customer' } }) }, async (request) => {
    const { id } = parseInput(idParams, request.params);
    return { profile: await getProfile(ctx.db, ctx.config, id, ctx.clock.now()) };
  });

  app.put('/api/staff/profiles/:id/phone', {
    preHandler,
    schema: doc({ ...staff, summary: 'Change the phone number (unverified until the customer confirms a code; the old number and the email are told; audited; cooling-off starts)', params: idParams, body: phoneBody, responses: { 200: 'the profile', 400: 'Invalid Phone Number, or a country not allowed', 404: 'no such customer', 409: 'verified by another customer' } }),
  }, async (request) => {
    const who = requireStaff(request);
    const { id } = parseInput(idParams, request.params);
    const body = parseInput(phoneBody, request.body);
    if (!isUuid(id)) throw new AppError('not_found', 'No customer profile with this id.');
    await setPhoneNumber(ctx, { userId: id }, body.phoneNumber, { kind: 'staff', userId: who.userId });
    return { profile: await getProfile(ctx.db, ctx.config, id, ctx.clock.now()) };
  });

  app.post('/api/staff/profiles/:id/clear-unreachable', { preHandler, schema: doc({ ...staff, summary: "Lift the unreachable mark of the customer's number (audited)", params: idParams, responses: { 200: 'the profile', 409: 'not marked unreachable' } }) }, async (request) => {
    const who = requireStaff(request);
    const { id } = parseInput(idParams, request.params);
    await clearUnreachable(ctx, who.userId, id);
    return { profile: await getProfile(ctx.db, ctx.config, id, ctx.clock.now()) };
  });

  app.post('/api/staff/profiles/:id/test-sms', { preHandler, schema: doc({ ...staff, summary: "Send the customer's number the test SMS (audited)", params: idParams, responses: { 202: 'queued: follow it in the message log', 409: 'no phone number' } }) }, async (request, reply) => {
    const who = requireStaff(request);
    const { id } = parseInput(idParams, request.params);
    return reply.status(202).send(await sendStaffTestSms(ctx, who.userId, { userId: id }));
  });

  app.get('/api/staff/messages', { preHandler, schema: doc({ ...staff, summary: 'The message log (SMS and email), newest first, filtered; keyset pages (before = nextCursor)', query: messagesQuery }) }, async (request) => {
    const query = parseInput(messagesQuery, request.query);
    return listMessages(ctx.db, query);
  });

  app.get('/api/staff/messages/:id', { preHandler, schema: doc({ ...staff, summary: "A message's timeline: created, policy decision, attempts, statuses, the error's meaning and fix", params: idParams, responses: { 200: 'the timeline', 404: 'no such message' } }) }, async (request) => {
    const { id } = parseInput(idParams, request.params);
    return messageTimeline(ctx.db, ctx.config, id);
  });

  app.get('/api/staff/audit', { preHandler, schema: doc({ ...staff, summary: 'The audit log of staff changes, newest first (read only: it cannot be changed)', query: auditQuery }) }, async (request) => {
    const query = parseInput(auditQuery, request.query);
    if ((query.beforeAt === undefined) !== (query.beforeId === undefined) || (query.beforeId !== undefined && !isUuid(query.beforeId))) {
      throw new AppError('validation_failed', 'beforeAt and beforeId: give both, from the last entry of the previous page, or neither.');
    }
    const page = await listAudit(ctx.db, { ...query, before: query.beforeAt && query.beforeId ? { at: new Date(query.beforeAt), id: query.beforeId } : undefined });
    return page;
  });
}
