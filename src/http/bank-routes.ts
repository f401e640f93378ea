// Accounts and money movements of the signed-in customer. A customer reaches only their own
// accounts: another customer's account answers exactly like one that does not exist.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { accountView, listAccounts, openAccount, requireOwnAccount } from '../bank/accounts.ts';
import { checkIdempotencyKey, MAX_AMOUNT_MINOR } from '../bank/ledger.ts';
import { moveCash, transfer, type MovementResult } from '../bank/transfers.ts';
import type { AppContext } from '../context.ts';
import { parseInput, requireSession, requireStaff, sessionOf } from './session-auth.ts';

const amountMinor = z.number().int().positive().max(MAX_AMOUNT_MINOR);
const currency = z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code in capitals, e.g. USD');

const openBody = z.strictObject({ currency });
const cashBody = z.strictObject({ amountMinor, currency });
const transferBody = z.strictObject({ fromAccountId: z.string().min(1).max(64), toAccountId: z.string().min(1).max(64), amountMinor, currency });
const accountParams = z.object({ id: z.string().max(64) });

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

  app.get('/api/accounts', { preHandler }, async (request) => ({ accounts: await listAccounts(ctx.db, sessionOf(request).userId) }));

  app.post('/api/accounts', { preHandler }, async (request, reply) => {
    const body = parseInput(openBody, request.body);
    const account = await openAccount(ctx.db, sessionOf(request).userId, body.currency, ctx.clock.now());
    return reply.status(201).send({ account });
  });

  app.get('/api/accounts/:id', { preHandler }, async (request) => {
    const { id } = parseInput(accountParams, request.params);
    return { account: accountView(await requireOwnAccount(ctx.db, sessionOf(request).userId, id)) };
  });

  // Cash comes in at a branch: staff make deposits, to any customer's account.
  app.post('/api/accounts/:id/deposits', { preHandler }, async (request, reply) => {
    const staff = requireStaff(request);
    const key = idempotencyKey(request);
    const { id } = parseInput(accountParams, request.params);
    const body = parseInput(cashBody, request.body);
    return sendMovement(reply, await moveCash(ctx, 'deposit', staff.userId, key, { accountId: id, ...body }));
  });

  app.post('/api/accounts/:id/withdrawals', { preHandler }, async (request, reply) => {
    const key = idempotencyKey(request);
    const { id } = parseInput(accountParams, request.params);
    const body = parseInput(cashBody, request.body);
    return sendMovement(reply, await moveCash(ctx, 'withdrawal', sessionOf(request).userId, key, { accountId: id, ...body }));
  });

  app.post('/api/transfers', { preHandler }, async (request, reply) => {
    const key = idempotencyKey(request);
    const body = parseInput(transferBody, request.body);
    return sendMovement(reply, await transfer(ctx, sessionOf(request).userId, key, body));
  });
}
