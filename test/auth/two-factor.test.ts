// Login codes through the path login uses: sendLoginCode queues a challenge and its SMS, the
// worker mints a 6-digit code from a CSPRNG and sends it through the real SDK to the simulator.
// The code exists only in that SMS: the database holds a hash, the message log a mask, the log
// file and the operator's report nothing. Codes expire after 5 minutes and allow 5 attempts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, hkdfSync, randomBytes, scryptSync } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { dataKeyFor } from '../../src/auth/data-key.ts';
import { checkLoginCode, sendLoginCode, type LoginCodeSent } from '../../src/auth/two-factor.ts';
import { otpChallenges, smsMessages } from '../../src/db/schema.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { reportJson, reportText } from '../../src/cli/twilio-report.ts';
import { runTwilioSetup } from '../../src/twilio-setup/run.ts';
import { createUser } from '../../src/users/users.ts';
import { createTestContext, eventually, HeldClock, type TestContext } from '../helpers/context.ts';

const PHONE = '+14155552671';
const clock = new HeldClock('2026-11-25T15:00:00Z');
let t: TestContext;
let userId: string;
let otherUserId: string;

before(async () => {
  t = await createTestContext({ clock });
  await startWorker(t.ctx);
  userId = (await createUser(t.ctx, { username: 'testuser', password: 'correct horse battery', phone: PHONE })).id;
  otherUserId = (await createUser(t.ctx, { username: 'other', password: 'correct horse battery', phone: '+14155552672' })).id;
});

after(async () => {
  await t.close();
});

/** Sends a login code and returns it as the customer's phone (the simulator's inbox) received it. */
async function sendAndReceive(): Promise<{ sent: LoginCodeSent; code: string }> {
  const before = t.sim.messages().length;
  const sent = await sendLoginCode(t.ctx, userId);
  const sms = await eventually(() => (t.sim.messages().length > before ? t.sim.messages()[0] : undefined), 10_000, 'the code SMS');
  assert.equal(sms.to, PHONE);
  const code = /code is (\d{6})\./.exec(sms.body)?.[1];
  assert.ok(code, `no 6-digit code in "${sms.body}"`);
  return { sent, code };
}

describe('sendLoginCode', () => {
  it('sends a 6-digit code, stored only as a hash and masked in the message log', async () => {
    const { sent, code } = await sendAndReceive();
    assert.equal(sent.destination, '***2671');
    assert.equal(sent.expiresAt.getTime() - clock.now().getTime(), 5 * 60_000);
    assert.equal(sent.maxAttempts, 5);

    const [challenge] = await t.ctx.db.select().from(otpChallenges).where(eq(otpChallenges.id, sent.challengeId));
    assert.ok(challenge?.codeHash, 'the worker stored the hash');
    assert.match(challenge.codeHash, /^hmac1\$[A-Za-z0-9+/]{43}=$/);
    assert.ok(!challenge.codeHash.includes(code));
    // Keyed: the same code under another data key (a copy of the database without the key) is no
    // hash of it, so the 10^6 possible codes cannot be tried against a stolen row.
    const [format, digest] = challenge.codeHash.split('$');
    assert.equal(format, 'hmac1');
    const keyed = (dataKey: Buffer) => createHmac('sha256', Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), 'dominion one-time code hash v1', 32)))
      .update(`${sent.challengeId}:${code}`).digest('base64');
    assert.equal(keyed(dataKeyFor(t.ctx.config)), digest, 'the HMAC of the challenge and the code under the data key');
    assert.notEqual(keyed(randomBytes(32)), digest);
    assert.notEqual(createHash('sha256').update(code).digest('base64'), digest, 'not an unkeyed hash');
    assert.equal(challenge.purpose, 'login');

    const [entry] = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, sent.messageId));
    assert.equal(entry?.type, 'two_factor_code');
    assert.match(entry?.bodyRedacted ?? '', /^DominionTrust: your login code is \*{6}\. It expires in 5 minutes\. We will never ask you for this code\./);
    assert.ok(!JSON.stringify(entry).includes(code));
    assert.ok(!(await t.readLog()).includes(code), 'the code never reaches the log file');
  });

  it('accepts the right code once (single use), and only for its own user', async () => {
    const { sent, code } = await sendAndReceive();
    assert.equal(await checkLoginCode(t.ctx, otherUserId, sent.challengeId, code), 'not_found', "another user's challenge");
    assert.equal(await checkLoginCode(t.ctx, userId, sent.challengeId, code), 'ok');
    assert.equal(await checkLoginCode(t.ctx, userId, sent.challengeId, code), 'already_used');
  });

  it("a code's hash is bound to its challenge: copied onto another challenge, that challenge's own code no longer matches", async () => {
    clock.advance(10 * 60_000); // a fresh window of the 5-codes-per-number limit
    const first = await sendAndReceive();
    const second = await sendAndReceive();
    const [row] = await t.ctx.db.select({ codeHash: otpChallenges.codeHash }).from(otpChallenges).where(eq(otpChallenges.id, first.sent.challengeId));
    await t.ctx.db.update(otpChallenges).set({ codeHash: row?.codeHash }).where(eq(otpChallenges.id, second.sent.challengeId));
    assert.equal(await checkLoginCode(t.ctx, userId, second.sent.challengeId, first.code), 'wrong_code', "the first code does not open the second challenge");
    assert.equal(await checkLoginCode(t.ctx, userId, second.sent.challengeId, second.code), 'wrong_code');
  });

  it('still checks a code hashed with scrypt before the upgrade (a code lives 5 minutes across a deploy)', async () => {
    clock.advance(10 * 60_000);
    const { sent, code } = await sendAndReceive();
    const salt = randomBytes(16);
    const legacy = `scrypt$${salt.toString('base64')}$${scryptSync(code, salt, 32).toString('base64')}`;
    await t.ctx.db.update(otpChallenges).set({ codeHash: legacy }).where(eq(otpChallenges.id, sent.challengeId));
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    assert.equal(await checkLoginCode(t.ctx, userId, sent.challengeId, wrong), 'wrong_code');
    assert.equal(await checkLoginCode(t.ctx, userId, sent.challengeId, code), 'ok');
  });

  it('refuses the right code after it expired (held clock, 5 minutes)', async () => {
    const { sent, code } = await sendAndReceive();
    clock.advance(5 * 60_000);
    assert.equal(await checkLoginCode(t.ctx, userId, sent.challengeId, code), 'expired');
  });

  it('refuses the right code after 5 wrong attempts', async () => {
    const { sent, code } = await sendAndReceive();
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < 5; i++) assert.equal(await checkLoginCode(t.ctx, userId, sent.challengeId, wrong), 'wrong_code');
    assert.equal(await checkLoginCode(t.ctx, userId, sent.challengeId, code), 'too_many_attempts');
  });
});

describe('test_twilio_sms --test-2fa', () => {
  it('sends a real code through sendLoginCode and shows only the masked destination and expiry', async () => {
    const before = t.sim.messages().length;
    const report = await runTwilioSetup(t.ctx, { test2fa: 'testuser', wait: true, timeoutSeconds: 10 });
    assert.equal(report.ok, true, JSON.stringify(report.checks));
    const [message] = report.messages;
    assert.equal(message?.kind, 'two_factor_code');
    assert.equal(message?.to, '***2671');
    assert.equal(message?.status, 'delivered');
    assert.equal(message?.maxAttempts, 5);
    assert.ok(message?.expiresAt);

    const sms = t.sim.messages()[0];
    assert.equal(t.sim.messages().length, before + 1);
    const code = /code is (\d{6})\./.exec(sms?.body ?? '')?.[1];
    assert.ok(code);
    const venue = { via: 'local' as const };
    for (const output of [reportText(report, venue), reportJson(report, venue), await t.readLog()]) {
      assert.ok(!output.includes(code), 'the code appears nowhere but in the SMS');
      assert.ok(!output.includes(PHONE), 'only the last four digits of the phone are shown');
    }
    assert.match(reportText(report, venue), /✅ Two-factor code: to testuser at \*\*\*2671: delivered, SID SM[0-9a-f]{32}.*code valid until .* UTC, 5 attempts, single use/);
    const stored = await t.ctx.db.select().from(otpChallenges).where(eq(otpChallenges.destination, PHONE));
    assert.ok(stored.every((row) => row.codeHash !== null && !row.codeHash.includes(code)));
  });
});
