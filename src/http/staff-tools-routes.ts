// The staff API behind the console's analytics and setup pages (staff sessions only):
// /api/staff/analytics (every table of a date range) and /api/staff/analytics/:table.csv and
// /api/staff/messages.csv (streamed CSV); /api/staff/setup (the checks of
// `test_twilio_sms --check-setup`, run by the same code, with the webhook URLs) and
// /api/staff/setup/test-sms (the test SMS to a typed number, audited).
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { inboundSmsUrl } from '../sms/inbound.ts';
import { statusCallbackUrl } from '../sms/delivery.ts';
import { analytics, analyticsTable, ANALYTICS_TABLES, MAX_ANALYTICS_DAYS, type AnalyticsRange, type AnalyticsTableName } from '../staff/analytics.ts';
import { csvLines, type CsvValue } from '../staff/csv.ts';
import { listMessages, MESSAGE_LANES } from '../staff/message-log.ts';
import { sendStaffTestSms } from '../staff/profiles.ts';
import { runTwilioSetup } from '../twilio-setup/run.ts';
import { doc } from './openapi.ts';
import { parseInput, requireSession, requireStaff } from './session-auth.ts';

const day = z.iso.date({ error: 'a date, e.g. 2026-11-25' });
const rangeQuery = z.strictObject({ from: day.optional(), to: day.optional() });
const tableParams = z.strictObject({ table: z.string().max(40) });
const messagesCsvQuery = z.strictObject({
  customer: z.string().max(150).optional(),
  type: z.string().max(64).optional(),
  status: z.string().max(32).optional(),
  lane: z.enum(MESSAGE_LANES).optional(),
  from: day.optional(),
  to: day.optional(),
  errorCode: z.coerce.number().int().min(1).max(99_999).optional(),
});
const testSmsBody = z.strictObject({ phoneNumber: z.string().min(1, 'type the number to send the test SMS to').max(64) });

/** The range asked for: by default the last 30 UTC days up to today; at most a year. */
function rangeOf(query: z.infer<typeof rangeQuery>, now: Date): AnalyticsRange {
  const today = new Date(now.toISOString().slice(0, 10));
  const to = query.to ? new Date(query.to) : today;
  const from = query.from ? new Date(query.from) : new Date(to.getTime() - 29 * 86_400_000);
  if (from > to) throw new AppError('validation_failed', `from (${query.from}) is after to (${query.to ?? to.toISOString().slice(0, 10)}): swap them.`);
  if ((to.getTime() - from.getTime()) / 86_400_000 + 1 > MAX_ANALYTICS_DAYS) throw new AppError('validation_failed', `At most ${MAX_ANALYTICS_DAYS} days at once: choose a shorter range.`);
  return { from, to };
}

function sendCsv(reply: FastifyReply, filename: string, lines: AsyncIterable<string>): FastifyReply {
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}"`)
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .send(Readable.from(lines));
}

export function staffToolsRoutes(app: FastifyInstance, ctx: AppContext): void {
  const preHandler = [requireSession(ctx), async (request: FastifyRequest) => { requireStaff(request); }];
  const staff = { tag: 'staff', auth: 'staff' } as const;
  const limits = ctx.config.limits;

  app.get('/api/staff/analytics', { preHandler, schema: doc({ ...staff, summary: 'SMS per day, type and month, delivery rate, failures by code, spend against the cap, top recipients, opt-outs, code conversion over a date range', query: rangeQuery }) }, async (request) => {
    const range = rangeOf(parseInput(rangeQuery, request.query), ctx.clock.now());
    return { ...(await analytics(ctx.db, limits, range)), dailySpendCapUsd: limits.dailySpendCapUsd };
  });

  app.get('/api/staff/analytics/:table', { preHandler, schema: doc({ ...staff, summary: `One analytics table as CSV (streamed; formulas neutralised): ${ANALYTICS_TABLES.map((t) => `${t}.csv`).join(', ')}`, params: tableParams, query: rangeQuery }) }, async (request, reply) => {
    const { table } = parseInput(tableParams, request.params);
    const name = table.replace(/\.csv$/, '') as AnalyticsTableName;
    if (!table.endsWith('.csv') || !ANALYTICS_TABLES.includes(name)) throw new AppError('not_found', `No analytics table "${table}". Known: ${ANALYTICS_TABLES.map((t) => `${t}.csv`).join(', ')}.`);
    const range = rangeOf(parseInput(rangeQuery, request.query), ctx.clock.now());
    const result = await analyticsTable(ctx.db, limits, range, name);
    return sendCsv(reply, `dominion-${name}-${range.from.toISOString().slice(0, 10)}-${range.to.toISOString().slice(0, 10)}.csv`, csvLines(result.columns, result.rows));
  });

  // The whole filtered log, read in keyset pages as the client reads the stream.
  app.get('/api/staff/messages.csv', { preHandler, schema: doc({ ...staff, summary: 'The filtered message log as CSV, streamed page by page', query: messagesCsvQuery }) }, async (request, reply) => {
    const query = parseInput(messagesCsvQuery, request.query);
    const filter = { ...query, from: query.from ? new Date(query.from) : undefined, to: query.to ? new Date(new Date(query.to).getTime() + 86_400_000) : undefined };
    async function* rows(): AsyncGenerator<CsvValue[]> {
      let before: string | undefined;
      do {
        const page = await listMessages(ctx.db, { ...filter, before, limit: 200 });
        for (const m of page.messages) yield [m.createdAt, m.channel, m.lane, m.type, m.customer, m.destination, m.status, m.errorCode, m.detail, m.segments, m.estimatedCostUsd, m.id];
        before = page.nextCursor ?? undefined;
      } while (before);
    }
    const columns = ['created_at', 'channel', 'lane', 'type', 'customer', 'destination', 'status', 'error_code', 'detail', 'segments', 'estimated_cost_usd', 'id'];
    return sendCsv(reply, 'dominion-messages.csv', csvLines(columns, rows()));
  });

  app.get('/api/staff/setup', { preHandler, schema: doc({ ...staff, summary: 'The checks of `test_twilio_sms --check-setup --account-info --phone-numbers` with their fixes, and the webhook URLs to paste into Twilio' }) }, async () => {
    const report = await runTwilioSetup(ctx, { checkSetup: true, accountInfo: true, phoneNumbers: true });
    const base = ctx.config.publicBaseUrl;
    return {
      report,
      webhooks: {
        statusCallback: statusCallbackUrl(ctx.config) ?? null,
        inbound: inboundSmsUrl(ctx.config) ?? null,
        note: base ? 'Set each sender number\'s "A message comes in" webhook to the inbound URL (HTTP POST); status callbacks are asked for with every send.' : 'PUBLIC_BASE_URL is not set (or off): statuses are polled, and replies (STOP, START, HELP) cannot reach this server until it is set.',
      },
    };
  });

  app.post('/api/staff/setup/test-sms', { preHandler, schema: doc({ ...staff, summary: 'Send the test SMS of `test_twilio_sms --phone` to a number (audited)', body: testSmsBody, responses: { 202: 'queued: follow it in the message log', 400: 'Invalid Phone Number, or a country not allowed' } }) }, async (request, reply) => {
    const who = requireStaff(request);
    const body = parseInput(testSmsBody, request.body);
    return reply.status(202).send(await sendStaffTestSms(ctx, who.userId, { phoneNumber: body.phoneNumber }));
  });
}
