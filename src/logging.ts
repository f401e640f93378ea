// Structured logs (pino) to stdout and to LOG_DIR/dominion.log. Secrets never reach either:
// known fields are redacted by path, and every line is scrubbed of the configured secret values,
// of full phone numbers and of card numbers (both kept as their last four digits) before it is written.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pinoPretty from 'pino-pretty';
import pino, { type Logger } from 'pino';
import { luhnValid } from './cards/luhn.ts';
import { maskPhoneNumber } from './sms/phone.ts';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  /** Directory of dominion.log; undefined writes no file (tests that only inspect stdout). */
  logDir: string | undefined;
  /** Also write to stdout (servers); CLI commands keep stdout for their own output. */
  stdout: boolean;
  /** Literal values that must never appear: auth token, API key secret, database password. */
  secrets: readonly (string | undefined)[];
}

/** Log lines held in memory while the log file cannot be written; later ones are dropped. */
const LOG_BACKLOG_BYTES = 1024 * 1024;

const PHONE_PATHS = ['to', 'from', 'phone', 'phoneNumber', 'toNumber', 'fromNumber', 'destination'];
const SECRET_PATHS = [
  'authToken', 'password', 'apiKeySecret', 'otp', 'otpCode', 'body', 'token',
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.Authorization',
];


/**
 * A full number as a line may carry one: E.164, spaced (+1 415 555 2671), or URL-encoded in a
 * logged request URL (%2B14155552671: a query or path parameter a client sent).
 */
const FULL_NUMBER = /(?:\+|%2B)(?:1[ .-]?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}(?!\d)|\d{8,15})/gi;

/** A card number as text may carry one: 13-19 digits, plain or in groups of four; Luhn decides. */
const CARD_NUMBER = /(?<![\w.+-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7})(?![\w.]|[ -]\d)/g;
/** A JSON string in a serialised line: card numbers are looked for only there, never in `time` or `pid`. */
const JSON_STRING = /"(?:[^"\\]|\\.)*"/g;

/**
 * Removes secrets, full phone numbers and card numbers (PCI DSS: a PAN is never logged whole; kept
 * as its last four digits) from one serialised log line.
 */
export function scrubLine(line: string, secrets: readonly string[]): string {
  let out = line;
  for (const secret of secrets) out = out.split(secret).join('[REDACTED]');
  out = out.replace(FULL_NUMBER, (phone) => maskPhoneNumber(phone.replace(/^%2B/i, '+')));
  return out.replace(JSON_STRING, (text) => text.replace(CARD_NUMBER, (card) => {
    const digits = card.replace(/\D/g, '');
    return luhnValid(digits) ? `****${digits.slice(-4)}` : card;
  }));
}

/**
 * How log lines look on stdout: readable (pino-pretty) for a person at a terminal, JSON lines for
 * everything else (a pipe, a file, a log collector). The log file is always JSON.
 */
export function stdoutFormat(stdoutIsTty: boolean | undefined): 'pretty' | 'json' {
  return stdoutIsTty === true ? 'pretty' : 'json';
}

export function createLogger(options: LoggerOptions): Logger {
  const secrets = options.secrets.filter((s): s is string => typeof s === 'string' && s.length >= 6);
  const streams: pino.StreamEntry[] = [];
  if (options.stdout) {
    // Synchronous like the file, so the lines keep their order with the start banner's console output.
    streams.push({ stream: stdoutFormat(process.stdout.isTTY) === 'pretty'
      ? pinoPretty({ colorize: true, sync: true, destination: 1, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' })
      : process.stdout });
  }
  if (options.logDir) {
    mkdirSync(options.logDir, { recursive: true });
    const dest = join(options.logDir, 'dominion.log');
    // Synchronous: a crash must not lose the lines that explain it.
    const file = pino.destination({ dest, sync: true, mkdir: true, maxLength: LOG_BACKLOG_BYTES });
    // A log file that cannot be written (its disk full) must not crash the process (an 'error'
    // event nobody listens to would): stdout still has every line, and the file catches up once
    // it can be written, from a backlog of at most LOG_BACKLOG_BYTES.
    let told = false;
    let failing = false;
    file.on('error', (error: NodeJS.ErrnoException) => {
      failing = true;
      if (told) return;
      told = true;
      process.stderr.write(`dominion: cannot write ${dest} (${error.code ?? error.message}); its lines are held (up to 1 MiB) until it can be written\n`);
    });
    file.on('write', () => (failing = false));
    // pino flushes every stream after a fatal line, and sonic-boom's flushSync retries a write that
    // fails with anything but EAGAIN forever, 100 ms apart, blocking the thread: on a full disk the
    // process that logs why it stops would never stop. A file that is failing keeps its lines held
    // instead (written synchronously, a file that is not failing holds nothing to flush).
    const flushSync = file.flushSync.bind(file);
    file.flushSync = () => {
      if (!failing) flushSync();
    };
    streams.push({ stream: file });
  }
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: {
        paths: [
          ...SECRET_PATHS, ...SECRET_PATHS.map((p) => `*.${p}`),
          ...PHONE_PATHS.map((p) => `*.${p}`), ...PHONE_PATHS,
        ],
        censor: (value, path) => (PHONE_PATHS.includes(path[path.length - 1] ?? '') ? maskPhoneNumber(String(value)) : '[REDACTED]'),
      },
      hooks: { streamWrite: (line) => scrubLine(line, secrets) },
    },
    streams.length ? pino.multistream(streams) : pino.destination('/dev/null'),
  );
}

/** Flushes buffered log lines (before exit). */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    logger.flush(() => resolve());
  });
}
