// Routes the `dominion` CLI uses while this server owns the embedded database (PGlite has one
// opener): the command runs here and its result goes back to the CLI to print. Only from this
// machine, and only with the bearer token the server wrote to DATA_DIR/admin.token (mode 0600) at start.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { templatesInForce } from '../notifications/templates/store.ts';
import { runTwilioSetup, twilioSetupRequestSchema } from '../twilio-setup/run.ts';
import { setPhoneNumber } from '../users/phone-number.ts';
import { createUser } from '../users/users.ts';

export const ADMIN_CLI_PREFIX = '/internal/cli';

const LOOPBACK: ReadonlySet<string> = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

const newUserSchema = z.strictObject({
  username: z.string().min(1).max(150),
  password: z.string().min(1).max(1024),
  email: z.string().max(254).optional(),
  phone: z.string().max(64).optional(),
  isStaff: z.boolean().optional(),
});

const templateFilterSchema = z.strictObject({
  type: z.string().max(64).optional(),
  language: z.string().max(16).optional(),
  channel: z.enum(['sms', 'email']).optional(),
});

const setPhoneSchema = z.strictObject({
  username: z.string().min(1).max(150),
  phone: z.string().max(64).nullable(),
});

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Refuses anything but a loopback caller with the right token; says nothing about which failed. */
function guard(token: string) {
  const expected = digest(token);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const remote = request.socket.remoteAddress ?? '';
    // Loopback, or this machine calling its own address (a server bound to HOST=192.0.2.10).
    const local = LOOPBACK.has(remote) || remote === request.socket.localAddress;
    // A reverse proxy on this machine connects from loopback too; a forwarded request is not local.
    const forwarded = request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined;
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    const tokenOk = match?.[1] !== undefined && timingSafeEqual(digest(match[1]), expected);
    if (!local || forwarded || !tokenOk) {
      request.log.warn({ remote, forwarded }, 'admin CLI request refused');
      return reply.status(403).send({ error: 'forbidden', message: 'This endpoint only answers the dominion CLI on this machine.' });
    }
    return undefined;
  };
}

export function adminCliRoutes(app: FastifyInstance, ctx: AppContext, token: string): void {
  const onRequest = guard(token);
  const parse = <T>(schema: z.ZodType<T>, body: unknown, reply: FastifyReply): T | undefined => {
    const parsed = schema.safeParse(body);
    if (parsed.success) return parsed.data;
    void reply.status(400).send({ error: 'validation_failed', message: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });
    return undefined;
  };

  app.post(`${ADMIN_CLI_PREFIX}/test-twilio-sms`, { onRequest }, async (request, reply) => {
    const body = parse(twilioSetupRequestSchema, request.body, reply);
    if (!body) return reply;
    return runTwilioSetup(ctx, body);
  });

  app.post(`${ADMIN_CLI_PREFIX}/users`, { onRequest }, async (request, reply) => {
    const body = parse(newUserSchema, request.body, reply);
    if (!body) return reply;
    const user = await createUser(ctx, body);
    return reply.status(201).send({ user });
  });

  app.post(`${ADMIN_CLI_PREFIX}/users/set-phone`, { onRequest }, async (request, reply) => {
    const body = parse(setPhoneSchema, request.body, reply);
    if (!body) return reply;
    return { user: await setPhoneNumber(ctx, { username: body.username }, body.phone, { kind: 'cli' }) };
  });

  app.post(`${ADMIN_CLI_PREFIX}/notifications/templates`, { onRequest }, async (request, reply) => {
    const body = parse(templateFilterSchema, request.body, reply);
    if (!body) return reply;
    return templatesInForce(ctx, body);
  });
}
