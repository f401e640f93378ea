// Accounts and money movements of the signed-in customer. A customer reaches only their own
// accounts: another customer's account answers exactly like one that does not exist.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  accountView, listAccounts, MAX_CONFIRMATION_THRESHOLD_MINOR, openAccount, requireOwnAccount, setAlertThresholds,
} from '../bank/accounts.ts';
import { checkIdempotencyKey, MAX_AMOUNT_MINOR } from '../bank/ledger.ts';
import { cancelTransfer, confirmTransfer, getPendingTransfer, resendTransferCode, startTransfer, withTransferDelivery } from '../bank/pending-transfers.ts';
import { moveCash, type MovementResult } from '../bank/transfers.ts';
import type { AppContext } from '../context.ts';
import { listEvents, type BankEventType } from '../events/events.ts';
import { doc } from './openapi.ts';
import { parseInput, requireSession, requireStaff, sessionOf } from './session-auth.ts';

const amountMinor = z.number().int().positive().max(MAX_AMOUNT_MINOR);
const currency = z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code in capitals, e.g. USD');

const openBody = z.strictObject({ currency });
const cashBody = z.strictObject({ amountMinor, currency });
const transferBody = z.strictObject({ fromAccountId: z.string().min(1).max(64), toAccountId: z.string().min(1).max(64), amountMinor, currency });
const accountParams = z.object({ id: z.string().max(64) });
const transferParams = z.object({ id: z.string().max(64) });
const confirmBody = z.strictObject({ code: z.string().min(1).max(16) });
const threshold = z.number().int().min(0).max(MAX_AMOUNT_MINOR);
const alertsBody = z.strictObject({
  lowBalanceThresholdMinor: threshold.nullable().optional(),
  largeTransactionThresholdMinor: threshold.min(1).nullable().optional(),
  confirmationThresholdMinor: z.number().int().min(1).max(MAX_CONFIRMATION_THRESHOLD_MINOR,
    `at most ${MAX_CONFIRMATION_THRESHOLD_MINOR}: the bank asks for an SMS code for every transfer of that many minor units or more; you may only lower it`).optional(),
}).refine((b) => Object.keys(b).length > 0, 'give at least one of lowBalanceThresholdMinor, largeTransactionThresholdMinor (a number of minor units, or null for no alert), confirmationThresholdMinor');
const eventsQuery = z.strictObject({
  type: z.string().regex(/^[a-z_]+\.[a-z_]+$/, 'an event type such as transfer.sent').optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});

function idempotencyKey(request: FastifyRequest): string {
  const header = request.headers['idempotency-key'];
  return checkIdempotencyKey(Array.isArray(header) ? header[0] : header);
}

/** The first answer and every retry of it look the same; a retry is marked in a header only. */
function sendMovement(reply: FastifyReply, result: MovementResult): FastifyReply {
  if (result.replayed) void reply.header('idempotent-replayed', 'true');
  return reply.status(201).send(result.movement);
}

export function bankRoutes(app: FastifyInstance, ctx: AppContext): void {
  const preHandler = requireSession(ctx);

  app.get('/api/accounts', { preHandler, schema: doc({ tag: 'accounts', summary: 'Your accounts and balances (minor units)' }) }, async (request) => ({ accounts: await listAccounts(ctx.db, sessionOf(request).userId) }));

  app.post('/api/accounts', { preHandler, schema: doc({ tag: 'accounts', summary: 'Open an account in a currency', body: openBody, responses: { 201: 'the new account' } }) }, async (request, reply) => {
    const body = parseInput(openBody, request.body);
    const account = await openAccount(ctx.db, sessionOf(request).userId, body.currency, ctx.clock.now());
    return reply.status(201).send({ account });
  });

  app.get('/api/accounts/:id', { preHandler, schema: doc({ tag: 'accounts', summary: 'One of your accounts, with its alert thresholds', params: accountParams, responses: { 200: 'the account', 404: 'no such account of yours' } }) }, async (request) => {
    const { id } = parseInput(accountParams, request.params);
    return { account: accountView(await requireOwnAccount(ctx.db, sessionOf(request).userId, id)) };
  });

  // Cash comes in at a branch: staff make deposits, to any customer's account.
  app.post('/api/accounts/:id/deposits', {
    preHandler,
    schema: doc({ tag: 'staff', auth: 'staff', summary: 'Deposit cash into any customer account (at a branch)', params: accountParams, body: cashBody, idempotencyKey: true, responses: { 201: 'the movement: transaction id, amount, your accounts\' new balances', 404: 'no such account of yours', 422: 'Insufficient Funds, or the Idempotency-Key was used for a different request' } }),
  }, async (request, reply) => {
    const staff = requireStaff(request);
    const key = idempotencyKey(request);
    const { id } = parseInput(accountParams, request.params);
    const body = parseInput(cashBody, request.body);
    return sendMovement(reply, await moveCash(ctx, 'deposit', staff.userId, key, { accountId: id, ...body }));
  });

  app.post('/api/accounts/:id/withdrawals', {
    preHandler,
    schema: doc({ tag: 'money', summary: 'Withdraw cash from one of your accounts', params: accountParams, body: cashBody, idempotencyKey: true, responses: { 201: 'the movement: transaction id, amount, your accounts\' new balances', 404: 'no such account of yours', 422: 'Insufficient Funds, or the Idempotency-Key was used for a different request' } }),
  }, async (request, reply) => {
    const key = idempotencyKey(request);
    const { id } = parseInput(accountParams, request.params);
    const body = parseInput(cashBody, request.body);
    return sendMovement(reply, await moveCash(ctx, 'withdrawal', sessionOf(request).userId, key, { accountId: id, ...body }));
  });

  app.patch('/api/accounts/:id/alerts', {
    preHandler,
    schema: doc({ tag: 'accounts', summary: 'Set an account\'s low-balance, large-transaction and transfer-confirmation thresholds (null switches an alert off)', params: accountParams, body: alertsBody, responses: { 200: 'the account', 404: 'no such account of yours' } }),
  }, async (request) => {
    const { id } = parseInput(accountParams, request.params);
    const body = parseInput(alertsBody, request.body);
    return { account: await setAlertThresholds(ctx.db, sessionOf(request).userId, id, body) };
  });

  // Below the account's confirmation threshold the money moves now (201); at or above it the
  // transfer waits for the SMS code (202) and moves on POST /api/transfers/:id/confirm.
  app.post('/api/transfers', {
    preHandler,
    schema: doc({
      tag: 'money', summary: 'Transfer between accounts', body: transferBody, idempotencyKey: true,
      description: 'Below the from-account\'s confirmation threshold the money moves at once (201). At or above it the transfer waits (202) for the SMS code that names its amount and payee (PSD2 dynamic linking); confirm with POST /api/transfers/{id}/confirm.',
      responses: { 201: 'the movement', 202: 'a pending transfer awaiting its SMS code', 404: 'no such account', 422: 'Insufficient Funds, or the Idempotency-Key was used for a different request' },
    }),
  }, async (request, reply) => {
    const key = idempotencyKey(request);
    const body = parseInput(transferBody, request.body);
    const started = await startTransfer(ctx, sessionOf(request).userId, key, body, { ip: request.ip });
    if (started.movement) return sendMovement(reply, started.movement);
    if (started.replayed) void reply.header('idempotent-replayed', 'true');
    return reply.status(202).send(started.pending);
  });

  app.get('/api/transfers/:id', { preHandler, schema: doc({ tag: 'money', summary: 'A pending transfer of yours', params: transferParams, responses: { 200: 'the pending transfer', 404: 'no such transfer of yours' } }) }, async (request) => {
    const { id } = parseInput(transferParams, request.params);
    const userId = sessionOf(request).userId;
    return withTransferDelivery(ctx, userId, await getPendingTransfer(ctx.db, userId, id, ctx.clock.now()));
  });

  app.post('/api/transfers/:id/confirm', {
    preHandler,
    schema: doc({
      tag: 'money', summary: 'Confirm a pending transfer with its SMS code', params: transferParams, body: confirmBody, idempotencyKey: true,
      responses: { 201: 'the movement', 400: 'wrong code, or the code of another transfer', 404: 'no such transfer of yours', 410: 'code expired or already used', 422: 'Insufficient Funds', 429: 'too many attempts' },
    }),
  }, async (request, reply) => {
    const key = idempotencyKey(request);
    const { id } = parseInput(transferParams, request.params);
    const body = parseInput(confirmBody, request.body);
    return sendMovement(reply, await confirmTransfer(ctx, sessionOf(request).userId, id, key, body.code));
  });

  app.post('/api/transfers/:id/resend', { preHandler, schema: doc({ tag: 'money', summary: 'Send a new code for a pending transfer (after 30 s)', params: transferParams, responses: { 200: 'the pending transfer', 429: 'too soon: see Retry-After' } }) }, async (request) => {
    const { id } = parseInput(transferParams, request.params);
    return resendTransferCode(ctx, sessionOf(request).userId, id, { ip: request.ip });
  });

  app.post('/api/transfers/:id/call', { preHandler, schema: doc({ tag: 'money', summary: 'Call me instead: a new code for a pending transfer read by a voice call, with its amount and payee (no wait when the SMS could not arrive)', params: transferParams, responses: { 200: 'the pending transfer, delivery.channel voice', 429: 'too soon: see Retry-After' } }) }, async (request) => {
    const { id } = parseInput(transferParams, request.params);
    return resendTransferCode(ctx, sessionOf(request).userId, id, { ip: request.ip, voice: true });
  });

  app.delete('/api/transfers/:id', { preHandler, schema: doc({ tag: 'money', summary: 'Cancel a pending transfer', params: transferParams, responses: { 200: 'the cancelled transfer', 404: 'no such transfer of yours' } }) }, async (request) => {
    const { id } = parseInput(transferParams, request.params);
    return cancelTransfer(ctx, sessionOf(request).userId, id);
  });

  app.get('/api/events', { preHandler, schema: doc({ tag: 'accounts', summary: 'Your bank events (security, money, cards, KYC), newest first', query: eventsQuery }) }, async (request) => {
    const query = parseInput(eventsQuery, request.query);
    return { events: await listEvents(ctx.db, sessionOf(request).userId, { type: query.type as BankEventType | undefined, limit: query.limit }) };
  });
}
