// Who is asking: a preHandler that turns `Authorization: Bearer <token>` into the signed-in user
// (401 otherwise), and zod parsing of request bodies into AppError 'validation_failed'.
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { findSessionUser, type SessionUser } from '../auth/sessions.ts';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';

const signedIn = new WeakMap<FastifyRequest, SessionUser>();

/** preHandler: the request must carry a live session token. */
export function requireSession(ctx: Pick<AppContext, 'db' | 'clock'>) {
  return async (request: FastifyRequest): Promise<void> => {
    const match = /^Bearer\s+([A-Za-z0-9_-]{20,100})$/.exec(request.headers.authorization ?? '');
    const user = match?.[1] ? await findSessionUser(ctx.db, match[1], ctx.clock.now()) : undefined;
    if (!user) {
      throw new AppError('unauthenticated', 'Sign in first: send the header "Authorization: Bearer <token>" with the token from POST /api/login/verify. Sessions last 12 hours.');
    }
    signedIn.set(request, user);
  };
}

/** The signed-in user of a request that went through requireSession. */
export function sessionOf(request: FastifyRequest): SessionUser {
  const user = signedIn.get(request);
  if (!user) throw new Error('route is missing the requireSession preHandler');
  return user;
}

export function requireStaff(request: FastifyRequest): SessionUser {
  const user = sessionOf(request);
  if (!user.isStaff) throw new AppError('forbidden', 'Only bank staff may do this: sign in with a staff account.');
  return user;
}

export function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  throw new AppError('validation_failed', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
}
