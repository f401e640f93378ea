// Every code of the Twilio error table, and every magic number the setup guide lists, walked
// through the real path: `test_twilio_sms --phone` queues a message, the worker sends it with the
// official SDK to the simulator, which refuses it (or fails its delivery) with that code. Each
// must give the guide's message, Twilio's own title, the table's fix and the expected exit code,
// and the log line and message log must name the code the same way. The docs' table is the table.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { eq } from 'drizzle-orm';
import { smsMessages } from '../../src/db/schema.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { exitCodeOfReport, reportText } from '../../src/cli/twilio-report.ts';
import { GUIDE_MESSAGES, TWILIO_ERRORS, describeTwilioError, type TwilioErrorMeaning } from '../../src/sms/twilio-errors.ts';
import { runTwilioSetup, type TwilioSetupReport } from '../../src/twilio-setup/run.ts';
import { DOC_PATH, twilioErrorsMarkdown } from '../../scripts/twilio-errors-doc.ts';
import { createTestContext, type TestContext } from '../helpers/context.ts';

/** The exit codes the README promises for each kind of message (independent of the code under test). */
const EXPECTED_EXIT: Record<TwilioErrorMeaning, number> = {
  credentials: 4, test_credentials: 3, sender: 5, recipient: 7, opted_out: 7, region: 7,
  funds: 8, delivery: 9, rate: 11, request: 3, twilio_down: 10,
};
const RETRIED = new Set(['transient', 'rate_limited', 'insufficient_funds']);
const DOC = readFileSync(DOC_PATH, 'utf8');

function firstFailure(report: TwilioSetupReport) {
  const failure = report.checks.find((c) => !c.ok);
  assert.ok(failure, JSON.stringify(report.checks, null, 2));
  return failure;
}

/** Rows `| +15005550001 | 21211 → Invalid Phone Number (exit 7) |` of one of the docs' magic-number tables. */
function magicRows(header: string): { number: string; code: number; message: string; exit: number }[] {
  const table = DOC.slice(DOC.indexOf(header)).split('\n\n')[0]!;
  return [...table.matchAll(/^\| (\+1500555\d{4}) \| (\d{5}) → ([^(]+) \(exit (\d+)\) \|$/gm)]
    .map((m) => ({ number: m[1]!, code: Number(m[2]), message: m[3]!.trim(), exit: Number(m[4]) }));
}

describe('the Twilio error table', () => {
  let t: TestContext;
  before(async () => {
    t = await createTestContext();
    await startWorker(t.ctx);
  });
  after(() => t.close());

  it('is what docs/setup-twilio.md shows (regenerate with node scripts/twilio-errors-doc.ts)', () => {
    assert.ok(DOC.includes(`\n${twilioErrorsMarkdown()}\n`), 'the docs table differs from src/sms/twilio-errors.ts');
    for (const row of TWILIO_ERRORS) assert.ok(DOC.includes(`| [${row.code}](`), `${row.code} missing from the docs`);
  });

  TWILIO_ERRORS.forEach((row, index) => {
    const atDelivery = row.code >= 30_002 && row.code < 40_000;
    it(`${row.code} (${row.title}) → "${GUIDE_MESSAGES[row.meaning]}", exit ${EXPECTED_EXIT[row.meaning]}${atDelivery ? ', on delivery' : ''}`, async () => {
      const to = `+1415555${String(3000 + index)}`;
      if (atDelivery) t.sim.undeliver({ to, code: row.code, status: row.code <= 30006 ? 'undelivered' : 'failed' });
      else t.sim.refuse({ to, code: row.code });
      const report = await runTwilioSetup(t.ctx, { phone: to, wait: true, timeoutSeconds: RETRIED.has(row.kind) ? 1 : 10 });

      const failure = firstFailure(report);
      assert.equal(failure.title, GUIDE_MESSAGES[row.meaning]);
      assert.equal(exitCodeOfReport(report), EXPECTED_EXIT[row.meaning]);
      assert.equal(failure.twilioCode, row.code);
      assert.ok(failure.detail.includes(`Twilio error ${row.code} (${row.title}). See https://www.twilio.com/docs/errors/${row.code}`), failure.detail);
      assert.equal(failure.fix, row.fix);
      assert.ok(reportText(report, { via: 'local' }).includes(`❌ ${GUIDE_MESSAGES[row.meaning]}: `));

      const [logged] = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, report.messages[0]!.messageId));
      assert.equal(logged?.errorCode, row.code);
      assert.ok(logged?.errorMessage?.includes(row.title), `message log: ${logged?.errorMessage}`);
      if (!atDelivery) assert.ok((await t.readLog()).includes(`"twilioError":${JSON.stringify(describeTwilioError(row.code))}`), 'the log line names the code');
    });
  });

  for (const magic of magicRows('| To | result |')) {
    it(`magic To ${magic.number}: ${magic.code} → "${magic.message}", exit ${magic.exit} (as the docs say)`, async () => {
      const report = await runTwilioSetup(t.ctx, { phone: magic.number, timeoutSeconds: 10 });
      const failure = firstFailure(report);
      assert.deepEqual([failure.twilioCode, failure.title, exitCodeOfReport(report)], [magic.code, magic.message, magic.exit]);
    });
  }

  it('the docs list the magic numbers at all', () => {
    assert.equal(magicRows('| To | result |').length, 5);
    assert.equal(magicRows('| From (`TWILIO_PHONE_NUMBER`) | result |').length, 3);
  });
});

describe('magic From numbers, each as the configured sender', () => {
  for (const magic of magicRows('| From (`TWILIO_PHONE_NUMBER`) | result |')) {
    it(`${magic.number}: ${magic.code} → "${magic.message}", exit ${magic.exit} (as the docs say)`, async () => {
      const t = await createTestContext({ env: { TWILIO_PHONE_NUMBER: magic.number } });
      try {
        await startWorker(t.ctx);
        const report = await runTwilioSetup(t.ctx, { phone: '+14155552671', timeoutSeconds: 2 });
        const failure = firstFailure(report);
        assert.deepEqual([failure.twilioCode, failure.title, exitCodeOfReport(report)], [magic.code, magic.message, magic.exit]);
      } finally {
        await t.close();
      }
    });
  }
});
