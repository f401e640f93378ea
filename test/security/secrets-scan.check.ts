// Secrets stay secret, across everything the suite produced: `npm test` runs the suite with
// DOMINION_TEST_RECORD_DIR set (test/helpers/recorder.ts records every HTTP answer, log file and
// CLI output), then this file scans the records for the Twilio auth token and API key secret, the
// data key, admin tokens, passwords, every one-time code the simulator's handsets received, full
// phone numbers of customers, and card numbers. Run alone, it first runs a part of the suite
// itself with the recorder on. Not named *.test.ts: the suite's glob must not run it twice.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SIMULATOR_DEFAULTS } from '../../src/config.ts';
import { TEST_AUTH_TOKEN, TEST_SENDER, testEnv } from '../helpers/context.ts';
import { PASSWORD } from '../helpers/customers.ts';
import { ROOT } from '../helpers/process.ts';
import type { RecordLine } from '../helpers/recorder.ts';

/** Run alone: the parts of the suite that touch codes, phones, cards, the console and the CLI. */
const SAMPLE = [
  'test/auth/login.test.ts', 'test/users/registration.test.ts', 'test/http/customer-routes.test.ts', 'test/http/staff.test.ts',
  'test/cards/cards.test.ts', 'test/cli/cli-process.test.ts', 'test/cli/test-twilio-sms.test.ts', 'test/users/phone-change.test.ts',
];

const SECRETS: Record<string, string> = {
  'the Twilio auth token': TEST_AUTH_TOKEN,
  "the simulator's auth token": SIMULATOR_DEFAULTS.authToken,
  'the API key secret': 'key-secret-value',
  'the data encryption key': testEnv('', '').DATA_ENCRYPTION_KEY!,
  'an admin CLI token': 'test-admin-token-0123456789abcdefghijklmnop',
  "the customers' password": PASSWORD,
};

/** Numbers that are the bank's own senders or Twilio's magic test numbers, not a customer's. */
const NOT_A_CUSTOMER = new Set([TEST_SENDER, '+14155550100', SIMULATOR_DEFAULTS.phoneNumber]);
const MAGIC = /^\+1500555\d{4}$/;

function readRecords(dir: string): RecordLine[] {
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).flatMap((file) =>
    readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as RecordLine));
}

/** Every 6-digit code in the SMS the handsets received (the simulator's answers and inbox). */
function issuedCodes(records: RecordLine[]): Set<string> {
  const codes = new Set<string>();
  for (const r of records) {
    if (r.side !== 'phone') continue;
    for (const [, body] of r.text.matchAll(/"body":"((?:[^"\\]|\\.)*)"/g)) {
      if (!/code|código/i.test(body!)) continue;
      for (const [code] of body!.matchAll(/(?<![\d.])\d{6}(?![\d.])/g)) codes.add(code);
    }
  }
  return codes;
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

/** Text of a record with the numbers that are no data removed: log timestamps and process ids. */
function scannable(text: string): string {
  return text.replace(/"(time|pid|hostname|responseTime)":[^,}]+/g, '');
}

function findings(records: RecordLine[], codes: Set<string>): string[] {
  const found: string[] = [];
  const at = (r: RecordLine, what: string, index: number, text: string) =>
    found.push(`${what} in ${r.kind} ${r.where}${r.status ? ` (${r.status})` : ''}: …${text.slice(Math.max(0, index - 60), index + 60).replace(/\n/g, ' ')}…`);
  for (const r of records) {
    if (r.side === 'phone') continue; // the handset's own view: its SMS carry their codes
    const text = scannable(r.text);
    for (const [what, secret] of Object.entries(SECRETS)) {
      const i = text.indexOf(secret);
      if (i >= 0) at(r, what, i, text);
    }
    for (const m of text.matchAll(/(?<![\d.])\d{6}(?![\d.])/g)) if (codes.has(m[0])) at(r, `an issued code (${m[0]})`, m.index, text);
    for (const m of text.matchAll(/(?<![\d+])\d{13,19}(?!\d)/g)) if (luhn(m[0])) at(r, 'a card number', m.index, text);
    for (const m of text.matchAll(/\+1\d{10}(?!\d)/g)) if (!NOT_A_CUSTOMER.has(m[0]) && !MAGIC.test(m[0])) at(r, `a full phone number (${m[0].slice(0, 4)}…)`, m.index, text);
  }
  return found;
}

describe('secrets in everything the suite produced', () => {
  it('no auth token, API key secret, password, issued code, customer phone number or card number in any log line, HTTP answer or CLI output', () => {
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
      const records = readRecords(dir);
      const byKind = { http: 0, log: 0, cli: 0 };
      for (const r of records) byKind[r.kind]++;
      const logLines = records.filter((r) => r.kind === 'log').reduce((n, r) => n + r.text.split('\n').length, 0);
      const codes = issuedCodes(records);
      const bad = findings(records, codes);
      console.log(`secrets scan: ${byKind.http} HTTP answers (${records.filter((r) => r.side === 'phone').length} of them the simulator's), ${logLines} log lines in ${byKind.log} files, ${byKind.cli} CLI outputs; ${codes.size} issued codes looked for; ${bad.length} findings`);
      assert.ok(byKind.http > 100 && byKind.log > 0 && byKind.cli > 0, 'the recorder saw HTTP answers, logs and CLI output');
      assert.ok(codes.size > 10, 'codes were issued and harvested from the handsets');
      assert.deepEqual(bad.slice(0, 30), [], `${bad.length} secrets found`);
    } finally {
      if (own) rmSync(own, { recursive: true, force: true });
    }
  });
});
