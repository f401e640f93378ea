// `test_twilio_sms`, flag by flag, against the simulator through the real SDK, the real database
// and the real worker: each success path, and each error of the setup guide produced by its real
// cause, as the report (checks, exit code) and as the text an operator reads.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq, sql } from 'drizzle-orm';
import { rawRows } from '../../src/db/connection.ts';
import { maskSecret } from '../../src/config.ts';
import type { AppContext } from '../../src/context.ts';
import { smsMessages } from '../../src/db/schema.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createTwilioProvider } from '../../src/sms/twilio-provider.ts';
import { exitCodeOfReport, reportJson, reportText } from '../../src/cli/twilio-report.ts';
import { runTwilioSetup, type TwilioSetupReport, type TwilioSetupRequest } from '../../src/twilio-setup/run.ts';
import { createUser } from '../../src/users/users.ts';
import { createTestContext, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestContext } from '../helpers/context.ts';

let t: TestContext;

before(async () => {
  t = await createTestContext();
  await startWorker(t.ctx);
  await createUser(t.ctx, { username: 'testuser', password: 'correct horse battery', phone: '+14155552671' });
  await createUser(t.ctx, { username: 'nophone', password: 'correct horse battery' });
});

after(async () => {
  await t.close();
});

const venue = { via: 'local' as const };

function run(request: TwilioSetupRequest, ctx: AppContext = t.ctx): Promise<TwilioSetupReport> {
  return runTwilioSetup(ctx, { timeoutSeconds: 10, ...request });
}

/** The one failed check of a report, with the title, exit code and text the operator sees. */
function onlyFailure(report: TwilioSetupReport, title: string, exitCode: number) {
  const failures = report.checks.filter((c) => !c.ok);
  assert.equal(failures.length, 1, JSON.stringify(report.checks, null, 2));
  const [failure] = failures;
  assert.equal(failure!.title, title);
  assert.equal(report.ok, false);
  assert.equal(exitCodeOfReport(report), exitCode);
  const text = reportText(report, venue);
  assert.ok(text.includes(`❌ ${title}: ${failure!.detail}\n   Fix: ${failure!.fix}`), text);
  assert.match(text, new RegExp(`❌ 1 of \\d+ checks failed.*\\(exit code ${exitCode}\\)\\.$`));
  assert.equal((JSON.parse(reportJson(report, venue)) as { exitCode: number }).exitCode, exitCode);
  assertNoSecrets(text);
  return failure!;
}

function assertNoSecrets(output: string) {
  assert.ok(!output.includes(TEST_AUTH_TOKEN), 'the auth token is never shown');
  assert.ok(!output.includes(TEST_ACCOUNT_SID), 'the account SID is shown masked');
}

async function logEntry(sid: string | null) {
  assert.ok(sid);
  const [row] = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.twilioSid, sid));
  return row;
}

describe('--check-setup', () => {
  it('passes every check on a good setup, with secrets masked', async () => {
    const report = await run({ checkSetup: true });
    assert.equal(report.ok, true, JSON.stringify(report.checks, null, 2));
    assert.deepEqual(report.checks.map((c) => [c.name, c.level]), [
      ['settings.provider', 'warn'], ['settings.twilio_account_sid', 'ok'], ['settings.twilio_auth', 'ok'], ['settings.sender', 'ok'],
      ['settings.callbacks', 'warn'], ['settings.countries', 'ok'], ['twilio.credentials', 'ok'], ['twilio.sender', 'ok'], ['twilio.balance', 'ok'], ['database', 'ok'],
    ]);
    const text = reportText(report, venue);
    assertNoSecrets(text);
    assert.ok(text.includes(`TWILIO_ACCOUNT_SID ${maskSecret(TEST_ACCOUNT_SID)}`));
    assert.ok(text.includes(`TWILIO_AUTH_TOKEN ${maskSecret(TEST_AUTH_TOKEN)}`));
    assert.match(text, /✅ Sender: \+15005550006 .* is on the account and SMS-capable/);
    assert.match(text, /✅ Balance: 15\.00 USD, about 2,000 single-segment messages/);
    assert.match(text, /✅ Database: (pglite|postgres) reachable, all migrations applied/);
    assert.match(text, /✅ All 10 checks passed \(2 warnings\)\.$/);
    assert.equal(exitCodeOfReport(report), 0);
    assertNoSecrets(reportJson(report, venue));
  });

  it('"Authentication Error" (20003) with a wrong auth token, exit 4', async () => {
    const wrong = 'wrong-auth-token-0123456789abcdef';
    const provider = createTwilioProvider({ accountSid: TEST_ACCOUNT_SID, auth: { kind: 'token', authToken: wrong }, apiBaseUrl: t.sim.url });
    const config = { ...t.config, twilio: { ...t.config.twilio, authToken: wrong, auth: { kind: 'token' as const, authToken: wrong } } };
    const report = await run({ checkSetup: true }, { ...t.ctx, config, provider });
    const failure = onlyFailure(report, 'Authentication Error', 4);
    assert.equal(failure.twilioCode, 20003);
    assert.match(failure.fix ?? '', /TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN/);
    assert.ok(!reportText(report, venue).includes(wrong));
  });

  it('"Insufficient Funds" when the balance is exhausted, exit 8', async () => {
    t.sim.setBalance(0);
    try {
      const failure = onlyFailure(await run({ checkSetup: true }), 'Insufficient Funds', 8);
      assert.match(failure.detail, /0\.00 USD: not enough for one message/);
      assert.match(failure.fix ?? '', /Add credit/);
    } finally {
      t.sim.setBalance(15);
    }
  });
});

describe('--account-info and --phone-numbers', () => {
  it('shows the account with its SID masked, its type, creation date and balance', async () => {
    const report = await run({ accountInfo: true });
    assert.equal(report.ok, true);
    assert.deepEqual({ ...report.account, createdAt: undefined }, {
      friendlyName: 'DominionTrust Simulator', sid: maskSecret(TEST_ACCOUNT_SID), status: 'active', type: 'Full', createdAt: undefined,
      balance: t.sim.balance(), currency: 'USD',
    });
    assert.match(report.account?.createdAt ?? '', /^\d{4}-\d\d-\d\dT/);
    const text = reportText(report, venue);
    assert.match(text, /Account\n {2}Friendly name {2}DominionTrust Simulator\n {2}SID {12}••••••••cdef\n {2}Status {9}active\n {2}Type {11}Full\n {2}Created {8}\d{4}-\d\d-\d\d\n {2}Balance {8}\d+\.\d\d USD/);
    assertNoSecrets(text);
  });

  it("lists the account's numbers with capabilities, marking the sender", async () => {
    const report = await run({ phoneNumbers: true });
    assert.equal(report.ok, true);
    assert.deepEqual(report.phoneNumbers?.map((n) => [n.phoneNumber, n.sms, n.isSender]), [['+15005550006', true, true], ['+14155550100', true, false]]);
    assert.match(reportText(report, venue), /\+15005550006 +SMS yes {2}MMS yes {2}voice yes .*← sender \(TWILIO_PHONE_NUMBER\)/);
  });
});

describe('--phone', () => {
  it('normalises "+1 (415) 555-2671", sends through the message log and the worker, and follows it to delivered', async () => {
    const progress: string[] = [];
    const report = await runTwilioSetup(t.ctx, { phone: '+1 (415) 555-2671', wait: true, timeoutSeconds: 10 }, { onProgress: (line) => progress.push(line) });
    assert.equal(report.ok, true, JSON.stringify(report.checks, null, 2));
    const [message] = report.messages;
    assert.equal(message?.to, '+14155552671');
    assert.equal(message?.status, 'delivered');
    assert.deepEqual([message?.segments, message?.estimatedCost, message?.price], [1, 0.0075, 0.0075]);
    assert.match(message?.sid ?? '', /^SM[0-9a-f]{32}$/);
    assert.equal(t.sim.messages().find((m) => m.sid === message?.sid)?.to, '+14155552671');
    const row = await logEntry(message?.sid ?? null);
    assert.deepEqual([row?.type, row?.status, row?.toNumber], ['test_message', 'delivered', '+14155552671']);
    assert.ok(progress.some((line) => /^⏳ Test SMS to \+14155552671: pending/.test(line)), progress.join('\n'));
    const text = reportText(report, venue);
    assert.match(text, /✅ Phone number: "\+1 \(415\) 555-2671" read as \+14155552671/);
    assert.match(text, /✅ Test SMS: to \+14155552671: delivered, SID SM[0-9a-f]{32}, 1 segment \(GSM-7\), charged 0\.0075 USD/);
  });

  it('"Invalid Phone Number" for 12345, with the E.164 hint, exit 7; nothing is sent', async () => {
    const before = t.sim.messages().length;
    const failure = onlyFailure(await run({ phone: '12345' }), 'Invalid Phone Number', 7);
    assert.equal(failure.detail, '"12345" is too short.');
    assert.match(failure.fix ?? '', /^Use E\.164 format: \+14155552671/);
    assert.equal(t.sim.messages().length, before);
  });

  it('"Invalid Phone Number" with 21211 named by Twilio\'s title for the magic invalid number +15005550001, exit 7', async () => {
    const report = await run({ phone: '+15005550001' });
    const failure = onlyFailure(report, 'Invalid Phone Number', 7);
    assert.equal(failure.twilioCode, 21211);
    assert.match(failure.detail, /Twilio error 21211 \(Invalid 'To' Phone Number\)\. See https:\/\/www\.twilio\.com\/docs\/errors\/21211/);
    assert.match(failure.fix ?? '', /not a valid phone number/);
    assert.equal(report.messages[0]?.status, 'failed');
  });

  it('"Recipient Opted Out" with 21610 for the opted-out +15005550004, exit 7', async () => {
    const failure = onlyFailure(await run({ phone: '+15005550004' }), 'Recipient Opted Out', 7);
    assert.equal(failure.twilioCode, 21610);
    assert.match(failure.detail, /Attempt to send to unsubscribed recipient/);
    assert.match(failure.fix ?? '', /replied STOP/);
  });

  it('"Insufficient Funds" (20005) when the balance ran out; the test message is withdrawn, not sent later', async () => {
    t.sim.setBalance(0);
    try {
      const report = await run({ phone: '+14155552671' });
      const failure = onlyFailure(report, 'Insufficient Funds', 8);
      assert.equal(failure.twilioCode, 20005);
      assert.match(failure.detail, /withdrawn, so it will not be sent later/);
      const [row] = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, report.messages[0]!.messageId));
      assert.equal(row?.status, 'canceled');
    } finally {
      t.sim.setBalance(15);
    }
  });
});

describe('--test-2fa --voice', () => {
  it('places the login code by call through the worker (the call\'s progress comes by status callback)', async () => {
    const report = await run({ test2fa: 'testuser', voice: true });
    assert.equal(report.ok, true, JSON.stringify(report.checks, null, 2));
    const check = report.checks.find((c) => c.name === 'voice.two_factor');
    assert.match(check?.detail ?? '', /^to testuser at \*\*\*2671: placed, SID CA[0-9a-f]{32}, status queued, estimated cost \$0\.0140; code valid until/);
    const call = t.sim.calls().find((c) => c.sid === report.messages[0]?.sid);
    assert.equal(call?.to, '+14155552671');
    assert.equal(call?.spoken.filter((line) => /^\d(, \d){5}\.$/.test(line)).length, 2);
  });

  it('refuses --voice without --test-2fa, and an unknown user by name', async () => {
    const failure = onlyFailure(await run({ test2fa: 'ghost', voice: true }), 'Unknown user', 6);
    assert.match(failure.detail, /No user is named "ghost"/);
  });
});

describe('--test-notification and users', () => {
  it('sends a sample security alert (new-device template) through notifyUser on the critical lane, recorded in the message log', async () => {
    const report = await run({ testNotification: 'testuser', wait: true });
    assert.equal(report.ok, true, JSON.stringify(report.checks, null, 2));
    const [message] = report.messages;
    assert.deepEqual([message?.kind, message?.to, message?.status], ['new_device_login', '***2671', 'delivered']);
    const row = await logEntry(message?.sid ?? null);
    assert.equal(row?.type, 'new_device_login');
    // Sent on the critical lane: by the notification's own job there, which carries its SMS on to
    // the send (src/notifications/dispatch-batch.ts), with no send job of any lane.
    const jobs = await rawRows<{ name: string; carrier: boolean }>(t.ctx.db, sql`
      select name, data ? 'notificationId' as carrier from pgboss.job where name like 'sms.%'
      and (data->>'messageId' = ${row?.id ?? ''} or data->>'notificationId' in (select id::text from notifications where sms_message_id = ${row?.id ?? null}::uuid))`);
    assert.deepEqual(jobs.map((j) => [j.name, j.carrier]), [['sms.critical', true]]);
    // The new_device_login template, rendered in the customer's language with the sample values.
    assert.match(row?.bodyRedacted ?? '', /^DominionTrust: new sign-in from test_twilio_sms near the bank on /);
    // Every default template fits one segment; the sample alert is no exception.
    assert.deepEqual([message?.segments, row?.segments], [1, 1], row?.bodyRedacted);
    assert.equal(t.sim.messages().find((m) => m.sid === message?.sid)?.body, row?.bodyRedacted);
    assert.match(reportText(report, venue), /✅ Security notification: to testuser at \*\*\*2671: delivered/);
  });

  it('"User has no phone number", pointing to the old admin page and to users set-phone, exit 6', async () => {
    for (const request of [{ testNotification: 'nophone' }, { test2fa: 'nophone' }]) {
      const failure = onlyFailure(await run(request), 'User has no phone number', 6);
      assert.match(failure.fix ?? '', /npx dominion users set-phone nophone \+14155552671/);
      assert.match(failure.fix ?? '', /\/admin\/accounts\/userprofile\//);
    }
  });

  it('"Unknown user", saying how to create it, exit 6', async () => {
    const failure = onlyFailure(await run({ test2fa: 'ghost' }), 'Unknown user', 6);
    assert.match(failure.fix ?? '', /npx dominion createuser ghost/);
  });
});
