// The signed-in customer's debit cards: issue, list, block, unblock. A customer reaches only their
// own cards: another customer's card answers exactly like one that does not exist. No answer ever
// carries a card number or its token, only the last 4 digits.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { blockCard, cardView, issueCard, listCards, requireOwnCard, unblockCard } from '../cards/cards.ts';
import type { AppContext } from '../context.ts';
import { doc } from './openapi.ts';
import { parseInput, requireSession, sessionOf } from './session-auth.ts';

const issueBody = z.strictObject({ accountId: z.string().min(1, 'the id of one of your accounts (GET /api/accounts)').max(64) });
const blockBody = z.strictObject({
  reason: z.string().trim().min(1, 'say why, e.g. "lost", "stolen" or "suspected fraud"').max(200, 'at most 200 characters'),
});
const cardParams = z.object({ id: z.string().max(64) });

export function cardRoutes(app: FastifyInstance, ctx: AppContext): void {
  const preHandler = requireSession(ctx);

  app.post('/api/cards', {
    preHandler,
    schema: doc({ tag: 'cards', summary: 'Issue a debit card on one of your accounts', body: issueBody, responses: { 201: 'the card (last 4 digits, expiry, status); sends the card-created notice', 404: 'no such account of yours' } }),
  }, async (request, reply) => {
    const { accountId } = parseInput(issueBody, request.body);
    return reply.status(201).send({ card: await issueCard(ctx, sessionOf(request).userId, accountId) });
  });

  app.get('/api/cards', { preHandler, schema: doc({ tag: 'cards', summary: 'Your cards' }) }, async (request) => ({ cards: await listCards(ctx.db, sessionOf(request).userId) }));

  app.get('/api/cards/:id', { preHandler, schema: doc({ tag: 'cards', summary: 'One of your cards', params: cardParams, responses: { 200: 'the card', 404: 'no such card of yours' } }) }, async (request) => {
    const { id } = parseInput(cardParams, request.params);
    return { card: cardView(await requireOwnCard(ctx.db, sessionOf(request).userId, id)) };
  });

  // Idempotent: blocking a blocked card (a double tap, a retry) answers 200 and sends nothing new.
  app.post('/api/cards/:id/block', {
    preHandler,
    schema: doc({ tag: 'cards', summary: 'Block a card (idempotent: a second block changes nothing and sends nothing)', params: cardParams, body: blockBody, responses: { 200: 'the card and whether it changed; sends the card-blocked notice', 404: 'no such card of yours', 409: 'the card has expired' } }),
  }, async (request) => {
    const { id } = parseInput(cardParams, request.params);
    const { reason } = parseInput(blockBody, request.body);
    const { card, changed } = await blockCard(ctx, sessionOf(request).userId, id, reason);
    return { card, changed };
  });

  app.post('/api/cards/:id/unblock', {
    preHandler,
    schema: doc({ tag: 'cards', summary: 'Unblock a blocked card', params: cardParams, responses: { 200: 'the card and whether it changed', 404: 'no such card of yours', 409: 'the card has expired: ask for a new one' } }),
  }, async (request) => {
    const { id } = parseInput(cardParams, request.params);
    const { card, changed } = await unblockCard(ctx, sessionOf(request).userId, id);
    return { card, changed };
  });
}
