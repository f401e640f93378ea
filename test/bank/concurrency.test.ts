// 200 transfers at once between 4 accounts of 2 customers, through the HTTP layer. On PostgreSQL
// they really run in parallel (row locks in id order, no deadlock); on PGlite one connection runs
// them one after another. Either way: the money is all still there, no balance went below zero,
// every transaction sums to zero, every balance equals its entries, and a key sent twice at once
// moved money once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { rawRows } from '../../src/db/connection.ts';
import { buildApp } from '../../src/http/app.ts';
import { createTestContext, type TestContext } from '../helpers/context.ts';
import { assertLedgerWhole, customer, type Customer } from '../helpers/customers.ts';

const TRANSFERS = 200;
/** Requests i and i + 100 share a key and a body for i below this: retries racing their original. */
const RACING_RETRIES = 10;
const START_BALANCE = 10_000;

let t: TestContext;
let app: FastifyInstance;
const owned: { owner: Customer; id: string }[] = [];

before(async () => {
  t = await createTestContext();
  app = buildApp(t.ctx);
  const staff = await customer(t, 'teller', '+14155558000', { isStaff: true });
  for (const [i, name] of ['ana', 'ben'].entries()) {
    const owner = await customer(t, name, `+1415555800${i + 1}`);
    for (let n = 0; n < 2; n++) {
      const res = await app.inject({ method: 'POST', url: '/api/accounts', headers: owner.auth, payload: { currency: 'USD' } });
      const { id } = res.json<{ account: { id: string } }>().account;
      const deposit = await app.inject({
        method: 'POST', url: `/api/accounts/${id}/deposits`,
        headers: { ...staff.auth, 'idempotency-key': `seed-${id}` }, payload: { amountMinor: START_BALANCE, currency: 'USD' },
      });
      assert.equal(deposit.statusCode, 201, deposit.body);
      owned.push({ owner, id });
    }
  }
});
after(() => t.close());

/** A fixed pseudo-random sequence, so a failure can be replayed. */
function* draws(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    yield x >>> 16; // the high bits: an LCG's low bits repeat with a short period
  }
}

describe('200 concurrent transfers between 4 accounts', () => {
  it('keep the ledger exact and no balance negative', async () => {
    const random = draws(42);
    const next = () => random.next().value as number;
    const requests = Array.from({ length: TRANSFERS }, (_, i) => {
      if (i >= 100 && i - 100 < RACING_RETRIES) return undefined;
      const from = owned[next() % owned.length]!;
      let to = owned[next() % owned.length]!;
      if (to.id === from.id) to = owned[(owned.indexOf(from) + 1) % owned.length]!;
      return { key: `c-${i}`, from, body: { fromAccountId: from.id, toAccountId: to.id, amountMinor: 1 + (next() % 3_000), currency: 'USD' } };
    });
    for (let i = 0; i < RACING_RETRIES; i++) requests[100 + i] = requests[i];

    const responses = await Promise.all(requests.map((r) => app.inject({
      method: 'POST', url: '/api/transfers', headers: { ...r!.from.owner.auth, 'idempotency-key': r!.key }, payload: r!.body,
    })));

    const statuses = responses.map((r) => r.statusCode);
    assert.ok(statuses.every((s) => s === 201 || s === 422), `unexpected statuses: ${[...new Set(statuses)].join(', ')}`);
    for (let i = 0; i < RACING_RETRIES; i++) {
      assert.equal(responses[100 + i]!.statusCode, responses[i]!.statusCode);
      assert.equal(responses[100 + i]!.body, responses[i]!.body, 'a racing retry gets the first answer, refusals too');
    }
    const movedKeys = new Set(requests.filter((_, i) => statuses[i] === 201).map((r) => r!.key));
    assert.ok(movedKeys.size > 50, `only ${movedKeys.size} transfers went through`);

    const balances = await rawRows<{ id: string; balance: string }>(t.ctx.db, sql`select id, balance_minor as balance from accounts where kind = 'customer'`);
    assert.equal(balances.reduce((sum, b) => sum + Number(b.balance), 0), owned.length * START_BALANCE, 'no money created or lost');
    assert.ok(balances.every((b) => Number(b.balance) >= 0), 'no balance below zero');

    const [transfers] = await rawRows<{ n: string }>(t.ctx.db, sql`select count(distinct transaction_id) as n from ledger_entries e join money_transactions m on m.id = e.transaction_id where m.kind = 'transfer'`);
    assert.equal(Number(transfers?.n), movedKeys.size, 'one money transaction per key that moved money');
    await assertLedgerWhole(t);
  });
});
