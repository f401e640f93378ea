// The secrets scan's rules, as pure functions over what test/helpers/recorder.ts recorded: which
// strings are secrets, which numbers are issued codes, card numbers or a customer's full phone
// number, and whose view may show a full number. test/security/secrets-scan.check.ts runs them
// over the whole suite's records; test/security/secrets-scan-rules.test.ts proves each one fires.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { luhnValid } from '../../src/cards/luhn.ts';
import type { RecordLine } from './recorder.ts';

export type FindingClass = 'secret' | 'code' | 'credential' | 'card' | 'phone';

export interface Finding {
  class: FindingClass;
  /** What was found, e.g. "the Twilio auth token" or "a full phone number (***2671)". */
  what: string;
  /** The record: kind, method and path, file or command line, status. */
  where: string;
  /** Text around the find (the find itself masked), to judge it without opening the records. */
  excerpt: string;
}

export interface ScanRules {
  /** Secret values by name: found anywhere, they are a finding (but see `publicDefaults`). */
  secrets: Readonly<Record<string, string>>;
  /**
   * Secret-looking values that are published defaults, each allowed only in the usage text that
   * documents it (a CLI output matching `usage`); anywhere else they are a finding like any secret.
   */
  publicDefaults: readonly { name: string; value: string; usage: RegExp }[];
  /** Every one-time code the bank sent (see issuedCodes). */
  codes: ReadonlySet<string>;
  /**
   * Credentials the bank showed their owner once (see issuedCredentials): value to what it is.
   * Allowed only in the answer that issued them.
   */
  credentials?: ReadonlyMap<string, { what: string; issuedIn: RecordLine }>;
  /** Numbers that are nobody's: the bank's senders, Twilio's magic test numbers; number to why. */
  notCustomers: ReadonlyMap<string, string>;
  /** Twilio's magic test numbers (+1 500 555 xxxx): never a handset. */
  magic: RegExp;
  /**
   * The documented example number (+14155552671): allowed where it stands as the example in
   * help and error texts. It is also the demo customer's number, so nowhere else.
   */
  example: string;
  /** The demo accounts' numbers, printed by `dominion start` to the operator who created them. */
  demo: readonly string[];
}

/**
 * The records of each test process (one file per process): a code leaks, if at all, in the process
 * that issued it (its apps, its logs, the CLI children it ran), so codes are looked for per
 * process, where a 6-digit number that matches by chance (a fuzzed id, a count) is 60 times rarer.
 */
export function readRecordsByProcess(dir: string): RecordLine[][] {
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((file) =>
    readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as RecordLine));
}

/** A standalone 6-digit number, also when a sentence's full stop follows it ("code is 512993."). */
const SIX_DIGITS = /(?<!\d|\d[.,])\d{6}(?!\d|[.,]\d)/g;
/** A code read out digit by digit, as the voice call's TwiML says it: "8, 4, 4, 8, 6, 0". */
const SPOKEN_DIGITS = /(?<![\d,] ?)\d(?:, \d){5}(?!,? ?\d)/g;
/** The words the code messages use (English and Spanish templates). */
const CODE_WORDS = /\bcode\b|c[oó]digo|\bclave\b/i;

/**
 * Every one-time code the bank sent: the 6-digit numbers in the SMS bodies and voice TwiML it
 * gave the simulator (what Twilio saw), in messages that speak of a code. Taken from the request
 * bodies and the answers, so a code the simulator refused to send still counts.
 */
export function issuedCodes(records: readonly RecordLine[]): Set<string> {
  const codes = new Set<string>();
  for (const r of records) {
    if (r.kind !== 'http' || r.side !== 'phone') continue;
    for (const text of [r.input ?? '', r.text]) {
      for (const [, body] of text.matchAll(/"(?:body|Body|Twiml)":"((?:[^"\\]|\\.)*)"/g)) {
        if (!CODE_WORDS.test(body!)) continue;
        for (const [code] of body!.matchAll(SIX_DIGITS)) codes.add(code);
        for (const [spoken] of body!.matchAll(SPOKEN_DIGITS)) codes.add(spoken.replace(/\D/g, ''));
      }
    }
  }
  return codes;
}

/**
 * The credentials the bank's answers showed their owner once: backup codes (POST
 * /api/2fa/backup-codes) and authenticator secrets (POST /api/2fa/totp, also inside the otpauth://
 * URI). Anywhere but that one answer they are a finding: a log line, another answer, a CLI output.
 */
export function issuedCredentials(records: readonly RecordLine[]): Map<string, { what: string; issuedIn: RecordLine }> {
  const found = new Map<string, { what: string; issuedIn: RecordLine }>();
  for (const r of records) {
    if (r.kind !== 'http' || r.side !== 'bank' || r.status !== 201) continue;
    let body: { codes?: unknown; secret?: unknown };
    try {
      body = JSON.parse(r.text) as typeof body;
    } catch {
      continue;
    }
    if (r.where === 'POST /api/2fa/backup-codes' && Array.isArray(body.codes)) {
      for (const code of body.codes) if (typeof code === 'string') found.set(code, { what: 'a backup code', issuedIn: r });
    }
    if (r.where === 'POST /api/2fa/totp' && typeof body.secret === 'string') found.set(body.secret, { what: "an authenticator app's secret", issuedIn: r });
  }
  return found;
}

/**
 * Card numbers: 13 to 19 digits passing Luhn, plain or in groups of four (spaces or dashes).
 * Not digits inside a word or a number: hex ids (SM…), fractions, exponents, longer digit runs.
 */
const CARD = /(?<![\w.+-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7})(?![\w.]|[ -]\d)/g;

export interface PhoneMatch {
  /** The number as E.164. */
  e164: string;
  index: number;
  length: number;
}

/**
 * Full phone numbers in any form a screen, log or URL shows one: E.164 (+14155552671), URL-encoded
 * (%2B14155552671), spaced (+1 415 555 2671) and the North American national forms ((415)
 * 555-2671, 415-555-2671).
 */
export function phoneNumbersIn(text: string): PhoneMatch[] {
  const found: PhoneMatch[] = [];
  const seen = new Set<number>();
  const add = (e164: string, m: RegExpMatchArray) => {
    if (!seen.has(m.index!)) found.push({ e164, index: m.index!, length: m[0].length });
    seen.add(m.index!);
  };
  for (const m of text.matchAll(/(?<![\w+])(?:\+|%2B)1[ .-]?(?:\((\d{3})\)|(\d{3}))[ .-]?(\d{3})[ .-]?(\d{4})(?!\d)/gi)) add(`+1${m[1] ?? m[2]}${m[3]}${m[4]}`, m);
  for (const m of text.matchAll(/(?<![\w+])(?:\+|%2B)([1-9]\d{7,14})(?!\d)/gi)) add(`+${m[1]}`, m);
  for (const m of text.matchAll(/(?<![\w+-])(?:\((\d{3})\) ?|(\d{3})-)(\d{3})-(\d{4})(?![\w-])/g)) add(`+1${m[1] ?? m[2]}${m[3]}${m[4]}`, m);
  return found.sort((a, b) => a.index - b.index);
}

/**
 * The numbers a requester sent or an operator typed (on the command line, in the path or body),
 * read loosely as a person types them: "+1 415 555 2675", "(415) 555-2676", "4155552671".
 */
export function typedNumbers(input: string): Set<string> {
  let decoded = input;
  try {
    decoded = decodeURIComponent(input.replace(/\+/g, '%2B'));
  } catch {
    // not URL-encoded text: read as it is
  }
  const numbers = new Set(phoneNumbersIn(decoded).map((p) => p.e164));
  // Up to seven neighbouring words of digits, brackets and dashes make one number when their
  // digits do: "+44 7700 900123", "(415) 555-2676", "4155552677".
  // The longest reading wins and its words are used up, so "+44 7700 900123" is not also "7700 900123".
  const words = decoded.split(/[\s"',;:={}[\]&?/]+/);
  for (let i = 0; i < words.length;) {
    let longest: { e164: string; n: number } | undefined;
    for (let n = 1; n <= 7 && i + n <= words.length; n++) {
      const typed = words.slice(i, i + n).join('');
      if (!/^\+?[\d().-]+$/.test(typed)) break;
      const digits = typed.replace(/\D/g, '');
      const e164 = typed.startsWith('+') ? (digits.length >= 8 && digits.length <= 15 ? `+${digits}` : undefined)
        : digits.length === 10 ? `+1${digits}` : digits.length === 11 && digits.startsWith('1') ? `+${digits}` : undefined;
      if (e164) longest = { e164, n };
    }
    if (longest) numbers.add(longest.e164);
    i += longest?.n ?? 1;
  }
  return numbers;
}

/**
 * Where the example number stands as the example: after "e.g.", "format:", "such as", "E.164 (",
 * or in a command or form shown as a template (--phone, set-phone <user>, to=, placeholder=).
 */
const EXAMPLE_CONTEXT = /(?:e\.g\.|format:|such as|E\.164 \(|--phone|set-phone \S+|(?:to|target|From)=|placeholder=")[\s"'`]*$/i;

/** Why a full number in this record is allowed, or undefined: a finding. */
export function phoneAllowed(r: RecordLine, phone: PhoneMatch, text: string, rules: ScanRules): string | undefined {
  const known = rules.notCustomers.get(phone.e164);
  if (known) return known;
  if (rules.magic.test(phone.e164)) return "a Twilio magic test number";
  if (phone.e164 === rules.example && EXAMPLE_CONTEXT.test(text.slice(Math.max(0, phone.index - 60), phone.index))) return 'the documented example';
  if (r.kind === 'log') return undefined; // logs show numbers masked, whoever reads them
  if (r.kind === 'cli') {
    if (typedNumbers(r.where).has(phone.e164)) return 'typed by the operator on the command line';
    if (rules.demo.includes(phone.e164) && /^dominion start\b/.test(r.where)) return "a demo account's number, printed to the operator who created it";
    return undefined;
  }
  if (r.side === 'phone') return "the simulator's (what Twilio and the handset see)";
  if (r.viewer && phone.e164 === r.viewer.phone) return "the viewer's own number";
  const typed = r.input !== undefined && typedNumbers(r.input).has(phone.e164);
  // Staff see customers' numbers masked, even one they typed themselves (a phone they set answers
  // masked); a refusal may quote what they sent, to say what to fix.
  if (r.viewer?.staff) return typed && (r.status ?? 0) >= 400 ? 'quoted from the request in a refusal to staff' : undefined;
  if (typed) return 'sent by the requester in this request';
  return undefined;
}

/** Text of a record without the numbers that are no data: log timestamps, process ids, durations. */
export function scannable(text: string): string {
  return text.replace(/"(time|pid|hostname|responseTime)":[^,}]+/g, '');
}

function excerpt(text: string, index: number, length: number): string {
  const before = text.slice(Math.max(0, index - 70), index);
  const after = text.slice(index + length, index + length + 70);
  return `…${before}[${length} chars]${after}…`.replace(/\s+/g, ' ');
}

export function describeRecord(r: RecordLine): string {
  return `${r.kind}${r.side === 'phone' ? ' (simulator)' : ''} ${r.where}${r.status ? ` (${r.status})` : ''}${r.viewer ? ` [viewer ${r.viewer.staff ? 'staff' : 'customer'}]` : ''}`;
}

/** Everything in one record that must not be there. */
export function findingsIn(r: RecordLine, rules: ScanRules): Finding[] {
  const found: Finding[] = [];
  const text = scannable(r.text);
  const add = (cls: FindingClass, what: string, index: number, length: number) =>
    found.push({ class: cls, what, where: describeRecord(r), excerpt: excerpt(text, index, length) });
  // Twilio's Account resource carries the account's auth token, as Twilio's does, to the holder
  // who asked with it: the simulator's answer, not the bank's output (which is scanned).
  const twilioAccount = r.side === 'phone' && /^GET \/2010-04-01\/Accounts\/AC\w+\.json$/.test(r.where);
  for (const [what, secret] of Object.entries(rules.secrets)) {
    if (twilioAccount) continue;
    for (let i = text.indexOf(secret); i >= 0; i = text.indexOf(secret, i + secret.length)) add('secret', what, i, secret.length);
  }
  for (const { name, value, usage } of rules.publicDefaults) {
    if (r.kind === 'cli' && usage.test(text)) continue;
    for (let i = text.indexOf(value); i >= 0; i = text.indexOf(value, i + value.length)) add('secret', name, i, value.length);
  }
  for (const [value, { what, issuedIn }] of rules.credentials ?? []) {
    if (issuedIn === r) continue;
    for (let i = text.indexOf(value); i >= 0; i = text.indexOf(value, i + value.length)) add('credential', what, i, value.length);
  }
  // The simulator's answers are what Twilio and the customer's handset see: their SMS carry codes.
  if (r.side === 'phone') return found;
  for (const m of text.matchAll(SIX_DIGITS)) if (rules.codes.has(m[0])) add('code', 'an issued code', m.index, m[0].length);
  for (const m of text.matchAll(SPOKEN_DIGITS)) if (rules.codes.has(m[0].replace(/\D/g, ''))) add('code', 'an issued code, spoken', m.index, m[0].length);
  for (const m of text.matchAll(CARD)) if (luhnValid(m[0].replace(/\D/g, ''))) add('card', 'a card number', m.index, m[0].length);
  for (const phone of phoneNumbersIn(text)) {
    if (!phoneAllowed(r, phone, text, rules)) add('phone', `a full phone number (***${phone.e164.slice(-4)})`, phone.index, phone.length);
  }
  return found;
}

export function scan(records: readonly RecordLine[], rules: ScanRules): Finding[] {
  return records.flatMap((r) => findingsIn(r, rules));
}

/** How many full numbers each allowance let through: the figures the check prints. */
export function allowances(records: readonly RecordLine[], rules: ScanRules): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of records) {
    if (r.side === 'phone') continue;
    const text = scannable(r.text);
    for (const phone of phoneNumbersIn(text)) {
      const why = phoneAllowed(r, phone, text, rules);
      if (why) counts.set(why, (counts.get(why) ?? 0) + 1);
    }
  }
  return counts;
}
