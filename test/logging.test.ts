// Secrets never reach the log file: not the auth token, not a one-time code, not a full number.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { smsMessages, users } from '../src/db/schema.ts';
import { startWorker } from '../src/jobs/worker.ts';
import { createOtpChallenge } from '../src/otp/challenges.ts';
import { CODE_PLACEHOLDER, queueSms } from '../src/sms/outbox.ts';
import { scrubLine } from '../src/logging.ts';
import { TEST_AUTH_TOKEN, createTestContext, eventually, type TestContext } from './helpers/context.ts';
import { ROOT } from './helpers/process.ts';

const CUSTOMER = '+14155552671';

describe('logs', () => {
  let t: TestContext;
  before(async () => {
    t = await createTestContext();
    await startWorker(t.ctx);
  });
  after(() => t.close());

  it('never contain the auth token, a one-time code or a full phone number', async () => {
    const [user] = await t.ctx.db.insert(users).values({ username: 'logcheck', passwordHash: 'x' }).returning();
    assert.ok(user);
    const queued = await t.ctx.db.transaction(async (tx) => {
      const challenge = await createOtpChallenge(tx, { userId: user.id, purpose: 'test', destination: CUSTOMER, now: t.ctx.clock.now() });
      return queueSms(t.ctx, tx, {
        type: 'two_factor_code', lane: 'sms.critical', userId: user.id, to: CUSTOMER,
        body: `DominionTrust: your login code is ${CODE_PLACEHOLDER}. We will never ask you for this code.`,
        otpChallengeId: challenge.id, sendBefore: challenge.expiresAt,
      });
    });
    const sent = await eventually(() => t.sim.messages().find((m) => m.to === CUSTOMER && m.body.includes('login code')));
    const code = /(\d{6})/.exec(sent.body)?.[1];
    assert.ok(code, 'the SMS carries a 6-digit code');
    // Provoke logging of a failed send too, whose error path is the most talkative.
    await t.ctx.db.transaction((tx) => queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.critical', to: '+15005550001', body: 'bad number' }));
    await eventually(async () => {
      const rows = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.toNumber, '+15005550001'));
      return rows[0]?.status === 'failed' ? true : undefined;
    });
    t.ctx.logger.info({ to: CUSTOMER, authToken: TEST_AUTH_TOKEN }, `explicit attempt to log ${TEST_AUTH_TOKEN} for ${CUSTOMER}`);

    // The send's line is written once its acceptance is recorded, after the simulator has it.
    const log = await eventually(async () => {
      const text = await t.readLog();
      return /sms accepted by provider/.test(text) ? text : undefined;
    }, 10_000, 'the log file has the send in it');
    assert.match(log, /sms accepted by provider/, 'the log file has the send in it');
    assert.match(log, /\*\*\*2671/, 'numbers appear as their last four digits');
    assert.ok(!log.includes(TEST_AUTH_TOKEN), 'auth token absent');
    assert.ok(!log.includes(CUSTOMER), 'full phone number absent');
    // As a number of its own: six digits also occur by chance inside timestamps and durations.
    assert.doesNotMatch(log, new RegExp(`(?<![\\d.])${code}(?![\\d.])`), 'one-time code absent');
    const [row] = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, queued.id));
    assert.equal(row?.bodyRedacted, 'DominionTrust: your login code is ******. We will never ask you for this code.');
  });

  it('scrubLine masks secrets and phone numbers inside any text', () => {
    assert.equal(scrubLine('token abc123secret to +14155552671', ['abc123secret']), 'token [REDACTED] to ***2671');
    // A number a client put in a URL is logged URL-encoded with the request; one typed with spaces stays whole.
    assert.equal(scrubLine('"url":"/api/staff/messages?to=%2B14155552671&x=%2b447700900123"', []), '"url":"/api/staff/messages?to=***2671&x=***0123"');
    assert.equal(scrubLine('phone "+1 415 555 2671" refused', []), 'phone "***2671" refused');
  });

  it('scrubLine masks a card number in any string of the line, never a number field', () => {
    // A client may put anything in a URL: a valid card number there is logged as its last four.
    assert.equal(scrubLine('{"time":1796299303609,"req":{"url":"/api/x?lane=4111111111111111&n=4111 1111 1111 1111"}}', []),
      '{"time":1796299303609,"req":{"url":"/api/x?lane=****1111&n=****1111"}}');
    // Not Luhn-valid, or a number outside any string (a timestamp that happens to pass): left alone.
    assert.equal(scrubLine('{"time":4111111111111111,"msg":"ref 4111111111111112"}', []), '{"time":4111111111111111,"msg":"ref 4111111111111112"}');
  });
});

describe('a log file on a full disk', () => {
  it('does not hold the process: a fatal line (pino flushes after it) returns at once, on stdout still', () => {
    // dominion.log is /dev/full: every write fails with ENOSPC, as on a disk that filled up.
    const logDir = mkdtempSync(join(tmpdir(), 'dominion-log-full-'));
    try {
      symlinkSync('/dev/full', join(logDir, 'dominion.log'));
      const script = `
        import { createLogger } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/logging.ts')).href)};
        const logger = createLogger({ level: 'info', logDir: ${JSON.stringify(logDir)}, stdout: true, secrets: [] });
        logger.info('before the stop');
        const started = Date.now();
        logger.fatal('disk full: stopping');
        console.log('fatal returned in ' + (Date.now() - started) + ' ms');`;
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(run.signal, null, `killed after 20 s: the fatal line held the process (sonic-boom's flushSync retrying ENOSPC)\n${run.stdout}${run.stderr}`);
      assert.equal(run.status, 0, run.stderr);
      const ms = Number(/fatal returned in (\d+) ms/.exec(run.stdout)?.[1]);
      assert.ok(ms < 1000, run.stdout);
      assert.match(run.stdout, /"level":60,.*"msg":"disk full: stopping"/);
      assert.match(run.stderr, /cannot write .*dominion\.log \(ENOSPC\); its lines are held/);
    } finally {
      rmSync(logDir, { recursive: true, force: true });
    }
  });
});
