// Customers for HTTP tests: created and signed in, and the SMS their phone received, read from
// the simulator's inbox.
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { createSession, deviceOf } from '../../src/auth/sessions.ts';
import { createUser, type UserSummary } from '../../src/users/users.ts';
import { sql } from 'drizzle-orm';
import { rawRows } from '../../src/db/connection.ts';
import { eventually, type TestContext } from './context.ts';

export const PASSWORD = 'correct horse battery';

/** Messages the simulator received for a number, oldest first. */
export function inbox(t: TestContext, phone: string): string[] {
  return t.sim.messages().filter((m) => m.to === phone).map((m) => m.body).reverse();
}

/** Waits for the phone's first SMS matching `match` after its first `seen` messages; returns its text. */
export async function nextSms(t: TestContext, phone: string, seen: number, match: RegExp, what = 'an SMS'): Promise<string> {
  return eventually(() => inbox(t, phone).slice(seen).find((body) => match.test(body)), 10_000, `${what} to ${phone}`);
}

/** The 6-digit code in a code SMS. */
export function codeIn(body: string): string {
  const code = /(?:is|es) (\d{6})\./.exec(body)?.[1];
  assert.ok(code, `no 6-digit code in "${body}"`);
  return code;
}

/** A wrong code: the right one plus one. */
export function wrong(code: string): string {
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

export interface Customer {
  user: UserSummary;
  phone: string;
  token: string;
  auth: { authorization: string };
}

/** An active customer with a session made directly (the sign-in flow has tests of its own). */
export async function customer(t: TestContext, username: string, phone: string, options: { isStaff?: boolean } = {}): Promise<Customer> {
  const user = await createUser(t.ctx, { username, password: PASSWORD, phone, email: `${username}@example.com`, isStaff: options.isStaff });
  const { token } = await createSession(t.ctx.db, user.id, deviceOf('test-agent', username), t.ctx.clock.now());
  return { user, phone, token, auth: { authorization: `Bearer ${token}` } };
}

/** Signs in through the endpoints, with the code the phone received. */
export async function signIn(
  t: TestContext, app: FastifyInstance, input: { username: string; phone: string; deviceId?: string; userAgent?: string },
): Promise<{ token: string; newDevice: boolean }> {
  const seen = inbox(t, input.phone).length;
  const headers = { 'user-agent': input.userAgent ?? 'DominionApp/1.0' };
  const started = await app.inject({ method: 'POST', url: '/api/login', headers, payload: { username: input.username, password: PASSWORD, deviceId: input.deviceId } });
  assert.equal(started.statusCode, 200, started.body);
  const code = codeIn(await nextSms(t, input.phone, seen, /login code is/, 'the login code'));
  const done = await app.inject({ method: 'POST', url: '/api/login/verify', headers, payload: { challengeId: started.json<{ challengeId: string }>().challengeId, code } });
  assert.equal(done.statusCode, 200, done.body);
  return done.json<{ token: string; newDevice: boolean }>();
}

/** The ledger's invariants: every money transaction sums to zero; every balance equals its entries. */
export async function assertLedgerWhole(t: TestContext): Promise<void> {
  const unbalanced = await rawRows(t.ctx.db, sql`select transaction_id from ledger_entries group by transaction_id having sum(amount_minor) <> 0`);
  assert.deepEqual(unbalanced, [], 'every transaction sums to zero');
  const drift = await rawRows(t.ctx.db, sql`
    select a.id from accounts a left join ledger_entries e on e.account_id = a.id
    group by a.id, a.balance_minor having a.balance_minor <> coalesce(sum(e.amount_minor), 0)`);
  assert.deepEqual(drift, [], 'every balance equals the sum of its entries');
}
