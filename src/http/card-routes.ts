// The signed-in customer's debit cards: issue, list, block, unblock. A customer reaches only their
// own cards: another customer's card answers exactly like one that does not exist. No answer ever
// carries a card number or its token, only the last 4 digits.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { blockCard, cardView, issueCard, listCards, requireOwnCard, unblockCard } from '../cards/cards.ts';
import type { AppContext } from '../context.ts';
import { parseInput, requireSession, sessionOf } from './session-auth.ts';

const issueBody = z.strictObject({ accountId: z.string().min(1, 'the id of one of your accounts (GET /api/accounts)').max(64) });
const blockBody = z.strictObject({
  reason: z.string().trim().min(1, 'say why, e.g. "lost", "stolen" or "suspected fraud"').max(200, 'at most 200 characters'),
});
const cardParams = z.object({ id: z.string().max(64) });

export function cardRoutes(app: FastifyInstance, ctx: AppContext): void {
  const preHandler = requireSession(ctx);

  app.post('/api/cards', { preHandler }, async (request, reply) => {
    const { accountId } = parseInput(issueBody, request.body);
    return reply.status(201).send({ card: await issueCard(ctx, sessionOf(request).userId, accountId) });
  });

  app.get('/api/cards', { preHandler }, async (request) => ({ cards: await listCards(ctx.db, sessionOf(request).userId) }));

  app.get('/api/cards/:id', { preHandler }, async (request) => {
    const { id } = parseInput(cardParams, request.params);
    return { card: cardView(await requireOwnCard(ctx.db, sessionOf(request).userId, id)) };
  });

  // Idempotent: blocking a blocked card (a double tap, a retry) answers 200 and sends nothing new.
  app.post('/api/cards/:id/block', { preHandler }, async (request) => {
    const { id } = parseInput(cardParams, request.params);
    const { reason } = parseInput(blockBody, request.body);
    const { card, changed } = await blockCard(ctx, sessionOf(request).userId, id, reason);
    return { card, changed };
  });

  app.post('/api/cards/:id/unblock', { preHandler }, async (request) => {
    const { id } = parseInput(cardParams, request.params);
    const { card, changed } = await unblockCard(ctx, sessionOf(request).userId, id);
    return { card, changed };
  });
}
