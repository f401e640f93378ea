// Who is asking: a preHandler that turns `Authorization: Bearer <token>` into the signed-in user
// (401 otherwise), and zod parsing of request bodies into AppError 'validation_failed'.
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { findSessionUser, type SessionUser } from '../auth/sessions.ts';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';

const signedIn = new WeakMap<FastifyRequest, SessionUser>();

/** preHandler: the request must carry a live session token. */
export function requireSession(ctx: Pick<AppContext, 'db' | 'clock' | 'config'>) {
  const rules = ctx.config.security.staffSession;
  return async (request: FastifyRequest): Promise<void> => {
    const match = /^Bearer\s+([A-Za-z0-9_-]{20,100})$/.exec(request.headers.authorization ?? '');
    const found = match?.[1] ? await findSessionUser(ctx.db, match[1], ctx.clock.now(), rules) : undefined;
    if (found && 'ended' in found) {
      throw new AppError('session_expired', found.ended === 'staff_idle'
        ? `Your staff session ended after ${rules.idleMs / 60_000} minutes without activity. Sign in again.`
        : `Your staff session ended: staff sessions last ${rules.maxAgeMs / 3_600_000} hours from sign-in. Sign in again.`);
    }
    if (!found) {
      throw new AppError('unauthenticated', 'Sign in first: send the header "Authorization: Bearer <token>" with the token from POST /api/login/verify. Sessions last 12 hours (staff: shorter, see STAFF_SESSION_MAX_HOURS).');
    }
    signedIn.set(request, found.user);
  };
}

/** The signed-in user of a request, if it went through requireSession and passed (the suite's recorder asks every answer). */
export function signedInUser(request: FastifyRequest): SessionUser | undefined {
  return signedIn.get(request);
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

/** No request the API documents nests deeper; deeper JSON is refused before anything walks it. */
export const MAX_INPUT_DEPTH = 16;

/** Longest field path a refusal quotes: a key a client made kilobytes long is cut, not echoed whole. */
const QUOTED_PATH_CHARS = 64;

function quoted(path: string): string {
  return path.length > QUOTED_PATH_CHARS ? `${path.slice(0, QUOTED_PATH_CHARS)}… (a field name of ${path.length} characters)` : path;
}

/**
 * What makes a request unreadable before its schema is checked: JSON nested deeper than any route
 * takes, or text no field can take, a NUL (PostgreSQL cannot store it) or a lone surrogate (not
 * Unicode: it has no UTF-8). Walked without recursion, so no depth overflows the stack.
 */
export function unreadableInput(input: unknown): string | undefined {
  const pending: { value: unknown; path: string; depth: number }[] = [{ value: input, path: 'body', depth: 0 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { value, path, depth } = next;
    if (typeof value === 'string') {
      if (value.includes('\0') || !value.isWellFormed()) return `${quoted(path)}: contains a NUL character or a broken Unicode character (a lone surrogate); send plain text.`;
    } else if (value !== null && typeof value === 'object') {
      if (depth >= MAX_INPUT_DEPTH) return `${quoted(path)}: nested deeper than ${MAX_INPUT_DEPTH} levels; send the fields documented at /docs.`;
      for (const [key, child] of Object.entries(value)) {
        pending.push({ value: key, path, depth }, { value: child, path: path === 'body' ? key : `${path}.${key}`, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

export function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const unreadable = unreadableInput(input);
  if (unreadable) throw new AppError('validation_failed', unreadable);
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  throw new AppError('validation_failed', parsed.error.issues.map((i) => {
    const at = quoted(i.path.join('.') || 'body');
    if (i.code === 'unrecognized_keys') return `${at}: unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.slice(0, 5).map((k) => `"${quoted(k)}"`).join(', ')}${i.keys.length > 5 ? ` and ${i.keys.length - 5} more` : ''}; send only the fields documented at /docs.`;
    return `${at}: ${i.message}`;
  }).join('; '));
}
