// Liveness, readiness and Prometheus metrics.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { isDatabaseUnavailable } from '../db/availability.ts';
import { databaseFullIn } from '../db/embedded-disk.ts';
import { doc } from './openapi.ts';

interface Check {
  ok: boolean;
  detail: string;
}

async function readiness(ctx: AppContext): Promise<Record<string, Check>> {
  const checks: Record<string, Check> = {};
  try {
    await ctx.database.ping();
    checks.database = { ok: true, detail: `${ctx.database.engine} reachable` };
    const pending = await ctx.database.pendingMigrations();
    checks.migrations = pending === 0
      ? { ok: true, detail: 'all applied' }
      : { ok: false, detail: `${pending} pending: run \`dominion migrate\`` };
  } catch (error) {
    const full = databaseFullIn(error);
    checks.database = full
      ? { ok: false, detail: full.userMessage }
      : isDatabaseUnavailable(error)
      ? { ok: false, detail: `unreachable: no answer from ${ctx.database.engine}; check that the database is running and reachable at DATABASE_URL` }
      : { ok: false, detail: `failing: ${(error as Error).message}` };
  }
  const { twilio } = ctx.config;
  const hasSender = Boolean(twilio.phoneNumber ?? twilio.messagingServiceSid);
  checks.provider = twilio.accountSid && hasSender
    ? { ok: true, detail: `${ctx.config.smsProvider} at ${twilio.apiBaseUrl}` }
    : { ok: false, detail: 'Twilio not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER' };
  return checks;
}

export function healthRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get('/healthz', { schema: doc({ tag: 'health', auth: 'none', summary: 'Liveness: the process answers', responses: { 200: 'alive' } }) }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: doc({
      tag: 'health', auth: 'none', summary: 'Readiness: database reachable, migrations applied, Twilio configured',
      responses: { 200: 'ready', 503: 'not ready; each failing check says what to fix' },
    }),
  }, async (_request, reply) => {
    const checks = await readiness(ctx);
    const ready = Object.values(checks).every((c) => c.ok);
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });

  app.get('/metrics', async (_request, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(body);
  });
}
