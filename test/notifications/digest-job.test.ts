// The daily digest with a held clock: an opted-in customer's transaction alerts are held, no SMS
// goes until their local 08:00 the next day, then one summary SMS; the hourly job sends each due
// summary once even when two runs overlap, and a missed day is carried into the next summary.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runDigestJob, sendDailyDigest } from '../../src/notifications/digest-job.ts';
import { setNotificationSettings } from '../../src/notifications/preferences.ts';
import {
  addCustomer, notify, openPipeline, setClock, settled, smsArrived, smsAt, type PipelineFixture,
} from './pipeline-fixture.ts';

const spend = (minorUnits: number, merchant: string) => ({
  values: { amount: { minorUnits, currency: 'USD' }, merchant, account_last4: '4821', balance: { minorUnits: 100_000, currency: 'USD' } },
});

describe('daily digest', () => {
  let f: PipelineFixture;
  before(async () => {
    f = await openPipeline();
  });
  after(() => f.close());

  it("an opted-in customer's three transactions send no SMS until the digest job, then one summary", async () => {
    setClock(f.clock, '2026-11-25T15:00:00Z'); // 10:00 in New York
    const { t } = f;
    const c = await addCustomer(t, { email: null });
    await setNotificationSettings(t.ctx.db, c.id, { digestTransactions: true });
    await notify(t, c.id, 'transaction', spend(-4520, 'Corner Cafe'));
    await notify(t, c.id, 'transaction', spend(-1200, 'Metro'));
    await notify(t, c.id, 'transaction', spend(10_000, 'Refund'));
    await notify(t, c.id, 'transfer_sent'); // not digestible: goes at once
    await smsArrived(t, c.phone, 1);
    const rows = await settled(t, c.id);
    assert.deepEqual(rows.filter((r) => r.type === 'transaction').map((r) => [r.status, r.reason]), Array(3).fill(['digested', 'daily_digest']));

    assert.deepEqual(await sendDailyDigest(t.ctx, c.id), { status: 'nothing_held' }, "today's items wait for tomorrow");
    setClock(f.clock, '2026-11-26T12:30:00Z'); // 07:30
    assert.deepEqual(await sendDailyDigest(t.ctx, c.id), { status: 'not_due' });
    assert.equal(smsAt(t, c.phone).length, 1);

    setClock(f.clock, '2026-11-26T13:00:00Z'); // 08:00
    const sent = await sendDailyDigest(t.ctx, c.id);
    assert.equal(sent.status, 'queued');
    assert.ok(sent.status === 'queued' && sent.items === 3 && sent.digestDate === '2026-11-25');
    const messages = await smsArrived(t, c.phone, 2);
    assert.match(messages[0]?.body ?? '', /^DominionTrust daily summary Nov 25: 3 transactions, out \$57\.20, in \$100\.00\./);
    assert.deepEqual(await sendDailyDigest(t.ctx, c.id), { status: 'nothing_held' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(smsAt(t, c.phone).length, 2);
  });

  it('two overlapping runs of the hourly job send each summary once; a missed day is carried into it', async () => {
    setClock(f.clock, '2026-11-24T15:00:00Z');
    const { t } = f;
    const c = await addCustomer(t, { email: null });
    await setNotificationSettings(t.ctx.db, c.id, { digestTransactions: true });
    await notify(t, c.id, 'transaction', spend(-500, 'Bakery'));
    await settled(t, c.id);
    setClock(f.clock, '2026-11-25T15:00:00Z'); // the summary of the 24th was never sent
    await notify(t, c.id, 'transaction', spend(-700, 'Bakery'));
    await settled(t, c.id);

    setClock(f.clock, '2026-11-26T14:00:00Z'); // 09:00 in New York: a run at 08:00 was missed too
    const runs = await Promise.all([runDigestJob(t.ctx), runDigestJob(t.ctx)]);
    assert.equal(runs[0] + runs[1], 1, 'one summary');
    const [summary] = await smsArrived(t, c.phone, 1);
    assert.match(summary?.body ?? '', /: 2 transactions, out \$12\.00\./);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(smsAt(t, c.phone).length, 1);
  });
});
