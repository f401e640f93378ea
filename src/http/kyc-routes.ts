// Identity checks (KYC): the customer submits and follows their own; staff list the review queue
// and decide. Staff routes need a staff session (401 without a session, 403 for a customer).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { DOCUMENT_TYPES, KYC_DECISIONS, KYC_STATUSES, latestKyc, listKycForStaff, ownKyc, reviewKyc, submitKyc } from '../kyc/kyc.ts';
import { parseInput, requireSession, requireStaff, sessionOf } from './session-auth.ts';

const text = (min: number, max: number, hint: string) => z.string().trim().min(min, hint).max(max, `at most ${max} characters`);

const submitBody = z.strictObject({
  fullName: text(2, 200, 'your full name as on the document'),
  dateOfBirth: z.string().max(10, 'YYYY-MM-DD, e.g. 1990-04-23'),
  documentType: z.enum(DOCUMENT_TYPES, `one of ${DOCUMENT_TYPES.join(', ')}`),
  documentNumber: z.string().max(40, 'at most 40 characters'),
  address: text(5, 500, 'your home address: street, city, postal code'),
});
const reviewBody = z.strictObject({
  decision: z.enum(KYC_DECISIONS, `one of ${KYC_DECISIONS.join(', ')}`),
  note: z.string().max(1000, 'at most 1000 characters').optional(),
});
const queueQuery = z.strictObject({
  status: z.enum(KYC_STATUSES, `one of ${KYC_STATUSES.join(', ')}`).default('submitted'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const idParams = z.object({ id: z.string().max(64) });

export function kycRoutes(app: FastifyInstance, ctx: AppContext): void {
  const preHandler = requireSession(ctx);

  app.post('/api/kyc', { preHandler }, async (request, reply) => {
    const body = parseInput(submitBody, request.body);
    return reply.status(201).send({ submission: await submitKyc(ctx, sessionOf(request).userId, body) });
  });

  app.get('/api/kyc', { preHandler }, async (request) => ({ submission: await latestKyc(ctx.db, sessionOf(request).userId) }));

  app.get('/api/kyc/:id', { preHandler }, async (request) => {
    const { id } = parseInput(idParams, request.params);
    return { submission: await ownKyc(ctx.db, sessionOf(request).userId, id) };
  });

  app.get('/api/staff/kyc', { preHandler }, async (request) => {
    requireStaff(request);
    const { status, limit } = parseInput(queueQuery, request.query);
    return { submissions: await listKycForStaff(ctx.db, status, limit) };
  });

  app.post('/api/staff/kyc/:id/review', { preHandler }, async (request) => {
    const staff = requireStaff(request);
    const { id } = parseInput(idParams, request.params);
    const body = parseInput(reviewBody, request.body);
    return { submission: await reviewKyc(ctx, staff.userId, id, body) };
  });
}
