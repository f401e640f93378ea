// The signed-in customer's devices and message history. A customer reaches only their own: another
// customer's device or message answers exactly like one that does not exist.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { getNotification, listNotificationHistory, MAX_HISTORY_PAGE, parseCursor } from '../notifications/history.ts';
import { forgetDevice, listDevices } from '../users/devices.ts';
import { doc } from './openapi.ts';
import { parseInput, requireSession, sessionOf } from './session-auth.ts';

const deviceParams = z.object({ id: z.string().max(64) });
const messageParams = z.object({ id: z.string().max(64) });
const messagesQuery = z.strictObject({
  limit: z.coerce.number({ message: 'a whole number of messages, 1 to 200' }).int('a whole number of messages, 1 to 200')
    .min(1, 'at least 1').max(MAX_HISTORY_PAGE, `at most ${MAX_HISTORY_PAGE} per page`).optional(),
  before: z.string().max(100).transform((text, check) => {
    const cursor = parseCursor(text);
    if (!cursor) check.addIssue({ code: 'custom', message: 'the nextBefore of the previous page, or an ISO 8601 instant such as 2026-11-25T15:00:00Z' });
    return cursor ?? z.NEVER;
  }).optional(),
});

export function customerRoutes(app: FastifyInstance, ctx: AppContext): void {
  const preHandler = requireSession(ctx);

  app.get('/api/devices', {
    preHandler,
    schema: doc({ tag: 'devices', summary: 'The devices you have signed in from, most recently seen first', responses: { 200: 'each device: an opaque id, its label, first and last seen, and whether it is the device of this session' } }),
  }, async (request) => {
    const session = sessionOf(request);
    return { devices: await listDevices(ctx.db, session.userId, session.sessionId) };
  });

  app.delete('/api/devices/:id', {
    preHandler,
    schema: doc({
      tag: 'devices',
      summary: 'Forget a device and sign out every session started from it',
      description: 'Its next sign-in counts as a new device again and sends the new-device alert. Forgetting the device of this very session signs you out too (signedOut: true).',
      params: deviceParams,
      responses: { 200: 'the device id, how many sessions were signed out, and whether this session was one of them', 404: 'no such device of yours' },
    }),
  }, async (request) => {
    const { id } = parseInput(deviceParams, request.params);
    const session = sessionOf(request);
    return forgetDevice(ctx, session.userId, id, session.sessionId);
  });

  app.get('/api/messages', {
    preHandler,
    schema: doc({
      tag: 'messages',
      summary: 'The messages the bank sent you, newest first',
      description: 'Each notification with its channel and status, and for SMS its text (codes shown as ******), delivery status and the last 4 digits of the number. Page with before=<nextBefore of the previous page>.',
      query: messagesQuery,
      responses: { 200: 'messages and nextBefore (null on the last page)', 400: 'limit or before malformed' },
    }),
  }, async (request) => {
    const query = parseInput(messagesQuery, request.query);
    return listNotificationHistory(ctx.db, sessionOf(request).userId, { limit: query.limit, before: query.before });
  });

  app.get('/api/messages/:id', {
    preHandler,
    schema: doc({ tag: 'messages', summary: 'One message the bank sent you', params: messageParams, responses: { 200: 'the message', 404: 'no such message of yours' } }),
  }, async (request) => {
    const { id } = parseInput(messageParams, request.params);
    return { message: await getNotification(ctx.db, sessionOf(request).userId, id) };
  });
}
