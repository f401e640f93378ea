// Identity checks (KYC): the customer submits and follows their own; staff list the review queue
// and decide. Staff routes need a staff session (401 without a session, 403 for a customer).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { DOCUMENT_TYPES, KYC_DECISIONS, KYC_STATUSES, latestKyc, listKycForStaff, ownKyc, reviewKyc, submitKyc } from '../kyc/kyc.ts';
import { doc } from './openapi.ts';
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

  app.post('/api/kyc', {
    preHandler,
    schema: doc({ tag: 'kyc', summary: 'Submit your identity check (only the last 4 characters of the document number are kept)', body: submitBody, responses: { 201: 'the submission; sends the KYC status notice', 409: 'a check is already open, or approved' } }),
  }, async (request, reply) => {
    const body = parseInput(submitBody, request.body);
    return reply.status(201).send({ submission: await submitKyc(ctx, sessionOf(request).userId, body) });
  });

  app.get('/api/kyc', { preHandler, schema: doc({ tag: 'kyc', summary: 'Your latest identity check and its status' }) }, async (request) => ({ submission: await latestKyc(ctx.db, sessionOf(request).userId) }));

  app.get('/api/kyc/:id', { preHandler, schema: doc({ tag: 'kyc', summary: 'One of your identity checks', params: idParams, responses: { 200: 'the submission', 404: 'no such check of yours' } }) }, async (request) => {
    const { id } = parseInput(idParams, request.params);
    return { submission: await ownKyc(ctx.db, sessionOf(request).userId, id) };
  });

  app.get('/api/staff/kyc', { preHandler, schema: doc({ tag: 'staff', auth: 'staff', summary: 'The KYC review queue, oldest first', query: queueQuery }) }, async (request) => {
    requireStaff(request);
    const { status, limit } = parseInput(queueQuery, request.query);
    return { submissions: await listKycForStaff(ctx.db, status, limit) };
  });

  app.post('/api/staff/kyc/:id/review', {
    preHandler,
    schema: doc({ tag: 'staff', auth: 'staff', summary: 'Decide an identity check: approved, rejected or more_info_needed (a note is required unless approving)', params: idParams, body: reviewBody, responses: { 200: 'the decided submission; the customer is notified', 409: 'not waiting for review' } }),
  }, async (request) => {
    const staff = requireStaff(request);
    const { id } = parseInput(idParams, request.params);
    const body = parseInput(reviewBody, request.body);
    return { submission: await reviewKyc(ctx, staff.userId, id, body) };
  });
}
