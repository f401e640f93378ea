// The suite's recorder, for the secrets scan (test/security/secrets-scan.check.ts): with
// DOMINION_TEST_RECORD_DIR set, every HTTP answer of every Fastify app in a test process (the
// bank's and the simulator's), every log file a test wrote and everything a child process printed
// are appended to that directory as JSON lines. Unset, it records nothing and costs nothing.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { subscribe } from 'node:diagnostics_channel';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';

export const RECORD_DIR = process.env.DOMINION_TEST_RECORD_DIR;

export type RecordKind = 'http' | 'log' | 'cli';

export interface RecordLine {
  kind: RecordKind;
  /** http: 'bank' or 'phone' (the simulator: what Twilio and the customer's handset see). */
  side?: 'bank' | 'phone';
  /** http: method and path; log: the file; cli: the command. */
  where: string;
  status?: number;
  text: string;
}

/** The simulator's own routes: Twilio's API, the developer inbox, the handset's reply box. */
const PHONE_SIDE = /^\/(2010-04-01\/|inbox|dev\/reply)/;

export function record(line: RecordLine): void {
  if (!RECORD_DIR || line.text === '') return;
  mkdirSync(RECORD_DIR, { recursive: true });
  appendFileSync(join(RECORD_DIR, `${process.pid}.jsonl`), `${JSON.stringify(line)}\n`);
}

/** Records every *.log file under dir (a test's LOG_DIR, or the directory holding it) before it is removed. */
export function recordLogs(dir: string): void {
  if (!RECORD_DIR || !existsSync(dir)) return;
  for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const path = join(dir, entry);
    if (entry.endsWith('.log') && statSync(path).isFile()) record({ kind: 'log', where: path, text: readFileSync(path, 'utf8') });
  }
}

function recordAnswers(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
    const side = PHONE_SIDE.test(request.url) ? 'phone' : 'bank';
    record({ kind: 'http', side, where: `${request.method} ${request.url.slice(0, 200)}`, status: reply.statusCode, text });
    return payload;
  });
}

if (RECORD_DIR) {
  // Fastify announces every instance it creates on this channel, before any route or hook.
  subscribe('fastify.initialization', (message) => recordAnswers((message as { fastify: FastifyInstance }).fastify));
}
