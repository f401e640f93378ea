// `test_twilio_sms` on broken setups, each broken for real: malformed settings, a sender the
// account does not own or none at all, a sender whose queue is full (rate limited), and a Twilio
// that cannot be reached. Each gives the guide's message, its fix and its exit code.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { eq } from 'drizzle-orm';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { smsMessages } from '../../src/db/schema.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { exitCodeOfReport, reportText } from '../../src/cli/twilio-report.ts';
import { reportForConfigIssues, reportIfSettingsBlock, runTwilioSetup, type TwilioSetupReport } from '../../src/twilio-setup/run.ts';
import { createTestContext, TEST_AUTH_TOKEN, testEnv, type TestContext } from '../helpers/context.ts';

async function withContext(env: Record<string, string>, work: (t: TestContext) => Promise<void>): Promise<void> {
  const t = await createTestContext({ env });
  try {
    await startWorker(t.ctx);
    await work(t);
  } finally {
    await t.close();
  }
}

function failure(report: TwilioSetupReport, title: string, exitCode: number) {
  const failed = report.checks.filter((c) => !c.ok);
  assert.ok(failed.length >= 1, JSON.stringify(report.checks, null, 2));
  assert.equal(failed[0]!.title, title, JSON.stringify(failed, null, 2));
  assert.equal(exitCodeOfReport(report), exitCode);
  const text = reportText(report, { via: 'local' });
  assert.ok(text.includes(`❌ ${title}: `) && text.includes('\n   Fix: '), text);
  assert.ok(!text.includes(TEST_AUTH_TOKEN));
  return failed[0]!;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(testEnv('http://127.0.0.1:1', '/tmp/unused', env), '/nonexistent/.env');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error;
  }
  assert.fail('expected the configuration to be refused');
}

describe('settings that do not load', () => {
  it('"Invalid credentials" for a malformed Account SID or a short token, without echoing the token, exit 3', () => {
    const report = reportForConfigIssues(configError({ TWILIO_ACCOUNT_SID: 'AC123', TWILIO_AUTH_TOKEN: 'tooshort' }).issues);
    const first = failure(report, 'Invalid credentials', 3);
    assert.match(first.detail, /^TWILIO_ACCOUNT_SID: must be 'AC' followed by 32 hex characters \(got "AC123"\)/);
    assert.match(first.fix ?? '', /console\.twilio\.com/);
    assert.equal(report.checks[1]?.title, 'Invalid credentials');
    assert.ok(!JSON.stringify(report).includes('tooshort'), 'a secret is never echoed');
  });

  it('"Phone number not configured" for a TWILIO_PHONE_NUMBER not in E.164, exit 5', () => {
    const first = failure(reportForConfigIssues(configError({ TWILIO_PHONE_NUMBER: '415 555 0100' }).issues), 'Phone number not configured', 5);
    assert.match(first.detail, /^TWILIO_PHONE_NUMBER: must be in E\.164 format.*\(got "415 555 0100"\)/);
  });

  it('"Invalid credentials" in Twilio mode without an Account SID, before any network call', () => {
    const config = loadConfig(testEnv('http://127.0.0.1:1', '/tmp/unused', { SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: '', TWILIO_AUTH_TOKEN: '' }), '/nonexistent/.env');
    const report = reportIfSettingsBlock(config);
    assert.ok(report);
    assert.deepEqual(report.checks.map((c) => c.title), ['Invalid credentials', 'Invalid credentials']);
    assert.equal(exitCodeOfReport(report), 3);
  });
});

describe('sender problems', () => {
  it('"Phone number not configured" when TWILIO_PHONE_NUMBER is missing (Twilio mode), exit 5; nothing is sent', async () => {
    await withContext({ SMS_PROVIDER: 'twilio', TWILIO_PHONE_NUMBER: '' }, async (t) => {
      const setup = await runTwilioSetup(t.ctx, { checkSetup: true });
      const first = failure(setup, 'Phone number not configured', 5);
      assert.match(first.detail, /TWILIO_PHONE_NUMBER is not set/);
      const text = reportText(setup, { via: 'local' });
      assert.equal(text.split('❌ Phone number not configured').length - 1, 1, `said once, not twice:\n${text}`);
      const send = await runTwilioSetup(t.ctx, { phone: '+14155552671' });
      failure(send, 'Phone number not configured', 5);
      assert.equal(send.messages.length, 0);
      assert.equal(t.sim.messages().length, 0);
    });
  });

  it('"Phone number not configured" when the number is not on the account (21606), exit 5', async () => {
    await withContext({ TWILIO_PHONE_NUMBER: '+14155550111' }, async (t) => {
      const setup = await runTwilioSetup(t.ctx, { checkSetup: true });
      const first = failure(setup, 'Phone number not configured', 5);
      assert.match(first.detail, /\+14155550111 is not a number of this Twilio account \(it has \+15005550006, \+14155550100\)/);
      const numbers = await runTwilioSetup(t.ctx, { phoneNumbers: true });
      assert.equal(numbers.ok, true);
      assert.match(reportText(numbers, { via: 'local' }), /⚠️ {2}Sender not on the account: TWILIO_PHONE_NUMBER \+14155550111/);
      const send = failure(await runTwilioSetup(t.ctx, { phone: '+14155552671', timeoutSeconds: 10 }), 'Phone number not configured', 5);
      assert.equal(send.twilioCode, 21606);
    });
  });

  it('"Rate limited" when the sender\'s queue is full (+15005550008, 21611); the message is withdrawn, exit 11', async () => {
    await withContext({ TWILIO_PHONE_NUMBER: '+15005550008' }, async (t) => {
      const report = await runTwilioSetup(t.ctx, { phone: '+14155552671', timeoutSeconds: 2 });
      const first = failure(report, 'Rate limited', 11);
      assert.equal(first.twilioCode, 21611);
      const [row] = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, report.messages[0]!.messageId));
      assert.equal(row?.status, 'canceled');
    });
  });
});

describe('an empty balance', () => {
  it('--account-info and --check-setup both say "Insufficient Funds" at 0.00, exit 8', async () => {
    await withContext({}, async (t) => {
      t.sim.setBalance(0);
      const info = await runTwilioSetup(t.ctx, { accountInfo: true });
      const infoFailure = failure(info, 'Insufficient Funds', 8);
      assert.equal(info.account?.balance, 0);
      const setup = await runTwilioSetup(t.ctx, { checkSetup: true });
      const setupFailure = failure(setup, 'Insufficient Funds', 8);
      assert.equal(infoFailure.detail, setupFailure.detail);
      assert.match(infoFailure.detail, /The balance is 0\.00 USD: not enough for one message/);
      assert.match(reportText(info, { via: 'local' }), /Balance {8}0\.00 USD/);
    });
  });
});

describe('Twilio unreachable', () => {
  it('names the URL it tried, for the checks and for a send, exit 10', async () => {
    const port = await closedPort();
    await withContext({ TWILIO_API_BASE_URL: `http://127.0.0.1:${port}` }, async (t) => {
      const setup = await runTwilioSetup(t.ctx, { checkSetup: true });
      const first = failure(setup, 'Twilio unreachable', 10);
      assert.match(first.detail, new RegExp(`Could not reach Twilio at http://127\\.0\\.0\\.1:${port}/2010-04-01/Accounts/AC[0-9a-f]{32}\\.json: connection refused`));
      assert.equal(setup.checks.find((c) => c.name === 'database')?.ok, true, 'the database is still checked');

      const send = failure(await runTwilioSetup(t.ctx, { phone: '+14155552671', timeoutSeconds: 2 }), 'Twilio unreachable', 10);
      assert.match(send.detail, new RegExp(`http://127\\.0\\.0\\.1:${port}/2010-04-01/Accounts/AC[0-9a-f]{32}/Messages\\.json`));
    });
  });
});
