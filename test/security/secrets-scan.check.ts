// Secrets stay secret, across everything the suite produced: `npm test` runs the suite with
// DOMINION_TEST_RECORD_DIR set (test/helpers/recorder.ts records every HTTP answer, log file and
// CLI output), then this file scans the records (rules in test/helpers/secrets-scan.ts) for the
// Twilio auth tokens and API key secrets, the data key, admin tokens, the customers' password,
// every one-time code the bank sent, card numbers, and full phone numbers outside their owner's
// own views. Run alone, it first runs a part of the suite itself with the recorder on. Not named
// *.test.ts: the suite's glob must not run it in the middle of the suite it scans.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SIMULATOR_DEFAULTS } from '../../src/config.ts';
import { DEMO_PHONE_NUMBER, DEMO_STAFF_PHONE_NUMBER } from '../../src/users/demo.ts';
import { TEST_AUTH_TOKEN, TEST_SENDER, testEnv } from '../helpers/context.ts';
import { PASSWORD } from '../helpers/customers.ts';
import { ROOT } from '../helpers/process.ts';
import { allowances, issuedCodes, issuedCredentials, readRecordsByProcess, scan, type Finding, type ScanRules } from '../helpers/secrets-scan.ts';
import { API_KEY, AUTH_TOKEN as SIMULATOR_TEST_TOKEN, OWNED_NUMBER } from '../simulator/fixture.ts';

/** Run alone: the parts of the suite that touch codes, phones, cards, the console and the CLI. */
const SAMPLE = [
  'test/auth/login.test.ts', 'test/users/registration.test.ts', 'test/http/customer-routes.test.ts', 'test/http/staff.test.ts',
  'test/cards/cards.test.ts', 'test/cli/cli-process.test.ts', 'test/cli/test-twilio-sms.test.ts', 'test/users/phone-change.test.ts',
];

const RULES: Omit<ScanRules, 'codes'> = {
  secrets: {
    'the Twilio auth token': TEST_AUTH_TOKEN,
    // test/sms/token-rotation.test.ts: the token rotated out and the one rotated in.
    'the previous Twilio auth token': 'old-auth-token-0123456789abcdef0',
    'the rotated-in Twilio auth token': 'new-auth-token-fedcba9876543210f',
    "the simulator tests' auth token": SIMULATOR_TEST_TOKEN,
    'the API key secret': 'key-secret-value',
    "the simulator tests' API key secret": API_KEY.secret,
    'the data encryption key': testEnv('', '').DATA_ENCRYPTION_KEY!,
    // test/cli/admin-endpoint.test.ts and test/security/auth-attacks.test.ts.
    'an admin CLI token': 'test-admin-token-0123456789abcdefghijklmnop',
    'the auth-attack tests\' admin CLI token': 'auth-attacks-admin-token-0123456789abcdef',
    "the customers' password": PASSWORD,
  },
  // Published in `twilio-sim --help` and the README as the default: it guards a local simulator.
  publicDefaults: [{ name: "the simulator's default auth token", value: SIMULATOR_DEFAULTS.authToken, usage: /Usage: dominion twilio-sim/ }],
  notCustomers: new Map([
    // The same magic number (+15005550006) as the simulator's default sender.
    [TEST_SENDER, "the bank's sender (a Twilio magic number)"],
    [OWNED_NUMBER, "the bank's second sender in tests"],
  ]),
  magic: /^\+1500555\d{4}$/,
  example: DEMO_PHONE_NUMBER,
  demo: [DEMO_PHONE_NUMBER, DEMO_STAFF_PHONE_NUMBER],
};

function byClass(found: readonly Finding[]): string {
  const counts = new Map<string, number>();
  for (const f of found) counts.set(f.class, (counts.get(f.class) ?? 0) + 1);
  return [...counts].map(([cls, n]) => `${n} ${cls}`).join(', ');
}

describe('secrets in everything the suite produced', () => {
  it('no auth token, API key secret, password, issued code, backup code, authenticator secret, card number, or full phone number outside its owner\'s view in any log line, HTTP answer or CLI output', () => {
    const started = performance.now();
    let dir = process.env.DOMINION_TEST_RECORD_DIR;
    let own: string | undefined;
    if (!dir) {
      own = dir = mkdtempSync(join(tmpdir(), 'dominion-record-'));
      // A test runner of its own: without NODE_TEST_CONTEXT, which would make it report into this one.
      const env = { ...process.env };
      delete env.NODE_TEST_CONTEXT;
      const run = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=240000', ...SAMPLE], { cwd: ROOT, env: { ...env, DOMINION_TEST_RECORD_DIR: dir }, encoding: 'utf8' });
      assert.equal(run.status, 0, `the recorded part of the suite failed:\n${run.stdout.slice(-3000)}`);
    }
    try {
      const processes = readRecordsByProcess(dir);
      const records = processes.flat();
      const http = records.filter((r) => r.kind === 'http');
      const simulator = http.filter((r) => r.side === 'phone').length;
      const signedIn = http.filter((r) => r.viewer).length;
      const logs = records.filter((r) => r.kind === 'log');
      const logLines = logs.reduce((n, r) => n + r.text.split('\n').length, 0);
      const cli = records.filter((r) => r.kind === 'cli').length;
      let codes = 0;
      // Shown once to their owner, in one answer of any process: looked for everywhere else.
      const credentials = issuedCredentials(records);
      const bad = processes.flatMap((own) => {
        const issued = issuedCodes(own);
        codes += issued.size;
        return scan(own, { ...RULES, codes: issued, credentials });
      });
      const rules: ScanRules = { ...RULES, codes: new Set() };
      const allowed = [...allowances(records, rules)].map(([why, n]) => `${n} ${why}`).join(', ');
      console.log(`secrets scan: ${http.length} HTTP answers (${simulator} of them the simulator's, ${signedIn} to a signed-in user), ${logLines} log lines in ${logs.length} files, ${cli} CLI outputs; ${codes} issued codes (in ${processes.length} test processes), ${credentials.size} backup codes and authenticator secrets shown once, and ${Object.keys(rules.secrets).length + rules.publicDefaults.length} secrets looked for; full numbers allowed: ${allowed || 'none'}; ${bad.length} findings${bad.length ? ` (${byClass(bad)})` : ''} (${Math.round(performance.now() - started)} ms)`);
      assert.ok(http.length > 100 && logs.length > 0 && cli > 0, `the recorder saw HTTP answers (${http.length}), logs (${logs.length}) and CLI output (${cli})`);
      assert.ok(signedIn > 0, 'the recorder knew who was signed in');
      assert.ok(codes > 10, `codes were issued and harvested from what the bank sent (${codes})`);
      // Floors met only by the whole suite: run alone, the sample enrols no authenticator.
      if (!own) assert.ok(credentials.size > 10, `backup codes and authenticator secrets were harvested from their answers (${credentials.size})`);
      const shown = bad.slice(0, 30).map((f) => `${f.what} in ${f.where}: ${f.excerpt}`);
      assert.deepEqual(shown, [], `${bad.length} secrets found`);
    } finally {
      if (own) rmSync(own, { recursive: true, force: true });
    }
  });
});
