// Prints a `test_twilio_sms` report: one line per check with ✅ / ⚠️ / ❌, the fix under each
// problem, the account and numbers when asked for, and a last line with the verdict. Or, with
// --json, the report as one JSON object for scripts (shape documented in docs/setup-twilio.md).
import type { Check } from '../twilio-setup/report.ts';
import type { TwilioSetupReport } from '../twilio-setup/run.ts';
import { EXIT, exitCodeOfProblem, type ExitCode } from './exit-codes.ts';

export interface ReportVenue {
  /** 'server' when the running server did the work, 'local' when this process did. */
  via: 'local' | 'server';
  serverUrl?: string;
  /** This process started a simulator of its own (no server running in simulator mode). */
  ownSimulator?: boolean;
}

const ICON = { ok: '✅', warn: '⚠️ ', fail: '❌' } as const;

/** The exit code of a report: 0 when every check passed, else the code of the first failure. */
export function exitCodeOfReport(report: TwilioSetupReport): ExitCode {
  const failure = report.checks.find((c) => !c.ok);
  return failure ? exitCodeOfProblem(failure.code) : EXIT.ok;
}

export function reportJson(report: TwilioSetupReport, venue: ReportVenue): string {
  const { ok, mode, apiBaseUrl, checks, account, phoneNumbers, messages } = report;
  return JSON.stringify({ ok, exitCode: exitCodeOfReport(report), mode, via: venue.via, apiBaseUrl, checks, account, phoneNumbers, messages }, null, 2);
}

function checkLines(check: Check): string[] {
  const lines = [`${ICON[check.level]} ${check.title}: ${check.detail}`];
  if (check.fix && check.level === 'fail') lines.push(`   Fix: ${check.fix}`);
  else if (check.fix) lines.push(`   Note: ${check.fix}`);
  return lines;
}

function yes(flag: boolean): string {
  return flag ? 'yes' : 'no ';
}

export function reportText(report: TwilioSetupReport, venue: ReportVenue): string {
  const out: string[] = [];
  const mode = report.mode === 'unknown' ? 'configuration not loaded' : `${report.mode} mode, ${report.apiBaseUrl ?? ''}`;
  out.push(`DominionTrust Bank · Twilio SMS (${mode})`);
  if (venue.via === 'server') out.push(`Run by the server at ${venue.serverUrl ?? '?'}, which owns the embedded database.`);
  if (venue.ownSimulator) {
    out.push('⚠️  No server is running: this command started its own simulator, whose inbox closes with it. Run `npm start` to keep an inbox open.');
  }
  out.push('');
  for (const check of report.checks) out.push(...checkLines(check));

  if (report.account) {
    const a = report.account;
    out.push('', 'Account');
    out.push(`  Friendly name  ${a.friendlyName}`);
    out.push(`  SID            ${a.sid}`);
    out.push(`  Status         ${a.status}`);
    out.push(`  Type           ${a.type}`);
    out.push(`  Created        ${a.createdAt?.slice(0, 10) ?? 'unknown'}`);
    out.push(`  Balance        ${a.balance === null ? 'unknown' : `${a.balance.toFixed(2)} ${a.currency ?? ''}`}`);
  }
  if (report.phoneNumbers) {
    out.push('', `Phone numbers (${report.phoneNumbers.length})`);
    if (!report.phoneNumbers.length) out.push('  (none: buy one under Phone Numbers → Buy a number, with SMS checked)');
    for (const n of report.phoneNumbers) {
      const mark = n.isSender ? '  ← sender (TWILIO_PHONE_NUMBER)' : '';
      out.push(`  ${n.phoneNumber.padEnd(16)} SMS ${yes(n.sms)}  MMS ${yes(n.mms)}  voice ${yes(n.voice)}  "${n.friendlyName}"${mark}`);
    }
  }
  if (report.messages.length) {
    out.push('', 'Messages');
    for (const m of report.messages) {
      const cost = m.price === null ? `estimated $${m.estimatedCost.toFixed(4)}` : `charged ${m.price.toFixed(4)} ${m.priceUnit ?? 'USD'}`;
      const expiry = m.expiresAt ? `, code expires ${m.expiresAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}` : '';
      out.push(`  ${m.kind.padEnd(16)} to ${m.to}  SID ${m.sid ?? '(none)'}  ${m.status}  ${m.segments} segment(s)  ${cost}${expiry}`);
    }
  }

  const failures = report.checks.filter((c) => !c.ok);
  const warnings = report.checks.filter((c) => c.level === 'warn').length;
  const warned = warnings ? ` (${warnings} warning${warnings > 1 ? 's' : ''})` : '';
  out.push('');
  if (!failures.length) {
    out.push(`✅ ${report.checks.length === 1 ? 'The check' : `All ${report.checks.length} checks`} passed${warned}.`);
  } else {
    const first = failures[0]!;
    out.push(`❌ ${failures.length} of ${report.checks.length} checks failed${warned}: ${first.title} (exit code ${exitCodeOfReport(report)}).`);
  }
  return out.join('\n');
}
