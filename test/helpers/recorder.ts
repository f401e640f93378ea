// The suite's recorder, for the secrets scan (test/security/secrets-scan.check.ts): with
// DOMINION_TEST_RECORD_DIR set, every HTTP answer of every Fastify app in a test process (the
// bank's and the simulator's), every log file a test wrote and everything a child process printed
// are appended to that directory as JSON lines. An HTTP answer carries what was sent and who was
// signed in (the session the app resolved, and that user's own number from the test's database),
// so the scan knows whose view it is. Unset, it records nothing and costs nothing.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { subscribe } from 'node:diagnostics_channel';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Database } from '../../src/db/connection.ts';
import { userProfiles } from '../../src/db/schema.ts';
import { signedInUser } from '../../src/http/session-auth.ts';

export const RECORD_DIR = process.env.DOMINION_TEST_RECORD_DIR;

export type RecordKind = 'http' | 'log' | 'cli';

export interface RecordLine {
  kind: RecordKind;
  /** http: 'bank' or 'phone' (the simulator: what Twilio and the customer's handset see). */
  side?: 'bank' | 'phone';
  /** http: method and path; log: the file; cli: the command. */
  where: string;
  status?: number;
  /** http: who was signed in (the session the app resolved), so the scan knows whose view it is. */
  viewer?: Viewer;
  /** http: what the requester sent (path, query and body); cli: what was piped to stdin. Never scanned, only consulted. */
  input?: string;
  text: string;
}

export interface Viewer {
  userId: string;
  staff: boolean;
  /** The viewer's own number as the answer left (after a change the request made), when known. */
  phone: string | null;
}

/**
 * The app's body limit (64 KB): a whole request, so a number a refusal quotes from deep in a big
 * body is known as the requester's own.
 */
const INPUT_LIMIT = 64 * 1024;

function inputOf(request: FastifyRequest): string {
  let body = '';
  try {
    body = request.body === undefined ? '' : typeof request.body === 'string' ? request.body : JSON.stringify(request.body) ?? '';
  } catch {
    // JSON nested too deep to stringify (the hostile-input test sends such): no number to learn from it
  }
  return `${request.url} ${body}`.slice(0, INPUT_LIMIT);
}

/** The simulator's own routes: Twilio's API, the developer inbox, the handset's reply box, its fault controls. */
const PHONE_SIDE = /^\/(2010-04-01\/|inbox|dev\/(reply|faults))/;

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

/** The test databases open in this process, where a signed-in viewer's own number is looked up. */
const databases = new Set<Database>();

/** Lets the recorder look up viewers in this database while it is open (test/helpers/database.ts). */
export function recordUsersOf(database: Database): () => void {
  if (!RECORD_DIR) return () => undefined;
  databases.add(database);
  return () => databases.delete(database);
}

/** The user's own number, from whichever open test database holds the user (ids are random UUIDs). */
async function ownNumber(userId: string): Promise<string | null> {
  for (const database of databases) {
    try {
      const [row] = await database.db.select({ phone: userProfiles.phoneNumber }).from(userProfiles).where(eq(userProfiles.userId, userId));
      if (row) return row.phone;
    } catch {
      // closed, or cut by an outage test: the viewer's number stays unknown, so no number is allowed
    }
  }
  return null;
}

function recordAnswers(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
    const side = PHONE_SIDE.test(request.url) ? 'phone' : 'bank';
    const user = signedInUser(request);
    const viewer = user && { userId: user.userId, staff: user.isStaff, phone: await ownNumber(user.userId) };
    record({ kind: 'http', side, where: `${request.method} ${request.url.slice(0, 200)}`, status: reply.statusCode, viewer, input: inputOf(request), text });
    return payload;
  });
}

if (RECORD_DIR) {
  // Fastify announces every instance it creates on this channel, before any route or hook.
  subscribe('fastify.initialization', (message) => recordAnswers((message as { fastify: FastifyInstance }).fastify));
}
