// The resend limit (3 per 10 minutes per user and per number) under racing resends from several
// sign-ins of one customer: counted under locks in the resend's own transaction, so it holds
// exactly, not one over. On PostgreSQL the resends truly run at once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { and, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { loginChallenges } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { createUser } from '../../src/users/users.ts';
import { createTestContext, HeldClock, type TestContext } from '../helpers/context.ts';
import { PASSWORD } from '../helpers/customers.ts';

const clock = new HeldClock('2026-11-25T15:00:00Z');
let t: TestContext;
let app: FastifyInstance;

before(async () => {
  // Only the resend limit is under test: the code limits per number and IP are off here.
  t = await createTestContext({ clock, env: { CODE_IP_LIMIT: '0', CODE_NUMBER_LIMIT: '0', LOGIN_IP_LIMIT: '0' } });
  app = buildApp(t.ctx);
});
after(() => t.close());

const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload, headers: { 'user-agent': 'DominionApp/1.0' } });

describe('resends racing from several sign-ins', () => {
  it('let exactly 3 through per user; the others get 429 with Retry-After', async () => {
    const user = await createUser(t.ctx, { username: 'rae', password: PASSWORD, phone: '+14155556001' });
    const challenges: string[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await post('/api/login', { username: 'rae', password: PASSWORD, deviceId: `device-${i}` });
      assert.equal(res.statusCode, 200, res.body);
      challenges.push(res.json<{ challengeId: string }>().challengeId);
    }
    clock.advance(31_000);
    const answers = await Promise.all(challenges.map((challengeId) => post('/api/login/resend', { challengeId })));
    const statuses = answers.map((a) => a.statusCode).sort();
    assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429, 429, 429], answers.map((a) => a.body).join('\n'));
    for (const refused of answers.filter((a) => a.statusCode === 429)) {
      assert.match(refused.json<{ message: string }>().message, /at most 3 in 10 minutes/);
      assert.ok(Number(refused.headers['retry-after']) > 0);
    }
    const resends = await t.ctx.db.select().from(loginChallenges).where(and(eq(loginChallenges.userId, user.id), eq(loginChallenges.isResend, true)));
    assert.equal(resends.length, 3);
  });
});
