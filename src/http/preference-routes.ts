// The signed-in customer's choices about the bank's messages (GET/PATCH /api/preferences), and
// staff's read of a customer's choices, consent record and preference events. Routes only.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { isUuid } from '../db/ids.ts';
import { AppError } from '../errors.ts';
import { listEvents } from '../events/events.ts';
import { changeCustomerChoices, CODE_DELIVERIES, getCustomerChoices } from '../notifications/choices.ts';
import { consentHistory } from '../sms/consent.ts';
import { findUserById } from '../users/users.ts';
import { doc } from './openapi.ts';
import { parseInput, requireSession, requireStaff, sessionOf } from './session-auth.ts';

const clockTime = z.string().regex(/^([01]?\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM on a 24-hour clock, e.g. 22:00');
const channelChoice = z.strictObject({ sms: z.boolean('true or false'), email: z.boolean('true or false') });

const preferencesBody = z.strictObject({
  /** Per notification type (see GET /api/preferences for the types and what each allows). */
  channels: z.record(z.string().max(64), channelChoice).optional(),
  /** Local times in timeZone; null: no quiet hours. */
  quietHours: z.strictObject({ start: clockTime, end: clockTime }).nullable().optional(),
  /** IANA name, e.g. Europe/Madrid. */
  timeZone: z.string().min(1).max(64).optional(),
  /** Transaction alerts as one summary SMS each morning. */
  digest: z.boolean('true or false').optional(),
  /** One of the languages GET /api/preferences lists. */
  language: z.string().min(2).max(8).optional(),
  /** sms, or voice: "call me instead" (a call reads each code). */
  codeDelivery: z.enum(CODE_DELIVERIES, `one of ${CODE_DELIVERIES.join(', ')}`).optional(),
  /** false stops SMS to your number, like replying STOP; true starts them again after that. */
  smsConsent: z.boolean('true or false').optional(),
}).refine((body) => Object.keys(body).length > 0, 'nothing to change: send at least one of channels, quietHours, timeZone, digest, language, codeDelivery, smsConsent');

const customerParams = z.object({ id: z.string().max(64) });

export function preferenceRoutes(app: FastifyInstance, ctx: AppContext): void {
  const preHandler = requireSession(ctx);
  const staffOnly = [preHandler, async (request: FastifyRequest) => { requireStaff(request); }];

  app.get('/api/preferences', {
    preHandler,
    schema: doc({
      tag: 'preferences',
      summary: 'Your choices: channels per notification type, quiet hours, time zone, digest, language, how codes reach you, SMS consent',
      description: 'Each type lists the channels it can use and its floor: codes always go to your phone (sms), critical security alerts keep at least one channel (one_channel). sms shows whether the bank may text you and, after a STOP, what to text to start again.',
      responses: { 200: 'your preferences' },
    }),
  }, async (request) => ({ preferences: await getCustomerChoices(ctx, ctx.db, sessionOf(request).userId) }));

  app.patch('/api/preferences', {
    preHandler,
    schema: doc({
      tag: 'preferences',
      summary: 'Change some of your choices; the others stay',
      description: 'Every change is recorded as a notification-preference event and you are told of it once (by SMS and/or email as your choices say). A request that changes nothing tells nobody. smsConsent true after you texted STOP is refused with what to text instead: only your phone can lift a STOP.',
      body: preferencesBody,
      responses: { 200: 'your preferences and the names of the fields that changed', 400: 'an unknown type, a choice under a type\'s floor (named), a bad time, zone or language', 409: 'SMS consent that only a START text can give back' },
    }),
  }, async (request) => {
    const body = parseInput(preferencesBody, request.body);
    return changeCustomerChoices(ctx, sessionOf(request).userId, body);
  });

  app.get('/api/staff/customers/:id/preferences', {
    preHandler: staffOnly,
    schema: doc({
      tag: 'staff', auth: 'staff',
      summary: 'A customer\'s choices, SMS consent record (when and how agreed and withdrawn) and notification-preference events',
      params: customerParams,
      responses: { 200: 'preferences, consent and events', 404: 'no such customer' },
    }),
  }, async (request) => {
    const { id } = parseInput(customerParams, request.params);
    if (!isUuid(id) || !(await findUserById(ctx.db, id))) throw new AppError('not_found', `No customer with id ${id}.`);
    return {
      preferences: await getCustomerChoices(ctx, ctx.db, id),
      consent: await consentHistory(ctx.db, id),
      events: await listEvents(ctx.db, id, { type: 'preferences.changed' }),
    };
  });
}
