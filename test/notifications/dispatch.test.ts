// The policy step end to end: notifyUser writes the outbox in the bank change's transaction, the
// worker decides and sends through the real SDK to the simulator and through a real SMTP server.
// Each type reaches the channels of its defaults, preferences and the critical floor hold, quiet
// hours wait for the morning with a held clock, and replays send nothing twice.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { rawRows } from '../../src/db/connection.ts';
import { notificationPreferences } from '../../src/db/schema.ts';
import { AppError } from '../../src/errors.ts';
import { CATALOGUE } from '../../src/notifications/catalogue.ts';
import { dispatchNotification } from '../../src/notifications/dispatch.ts';
import { setPreference } from '../../src/notifications/preferences.ts';
import { OVERDUE_MS, sweepNotifications } from '../../src/notifications/sweep.ts';
import { notifyUser } from '../../src/notifications/send.ts';
import { exampleValues } from '../../src/notifications/templates/render.ts';
import { createOtpChallenge } from '../../src/otp/challenges.ts';
import {
  addCustomer, handedOver, mailArrived, notificationsOf, notify, openPipeline, setClock, settled, smsArrived, smsAt, smsRowsOf, type PipelineFixture,
} from './pipeline-fixture.ts';

const DAYTIME = '2026-11-25T15:00:00Z'; // 10:00 in New York

describe('notification policy step', () => {
  let f: PipelineFixture;
  before(async () => {
    // One customer gets every type here: the per-customer limits have a suite of their own.
    f = await openPipeline({ env: { SMS_USER_HOURLY_LIMIT: '100', SMS_USER_DAILY_LIMIT: '100' } });
  });
  after(() => f.close());

  it('each catalogue type reaches the channels of its defaults, codes and security alerts on the critical lane', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const c = await addCustomer(t);
    for (const spec of CATALOGUE) {
      await t.ctx.db.transaction(async (tx) => {
        const challenge = spec.carriesCode
          ? await createOtpChallenge(tx, { userId: c.id, purpose: 'test', destination: c.phone!, now: f.clock.now() })
          : undefined;
        await notifyUser(t.ctx, tx, { userId: c.id, type: spec.id, values: exampleValues(spec), otpChallengeId: challenge?.id, sendBefore: challenge?.expiresAt });
      });
    }
    const smsTypes = CATALOGUE.filter((s) => s.defaultChannels.sms).map((s) => s.id).sort();
    const emailTypes = CATALOGUE.filter((s) => s.defaultChannels.email).map((s) => s.id).sort();
    await smsArrived(t, c.phone, smsTypes.length);
    await mailArrived(f.smtp, c.email, emailTypes.length);
    const rows = await settled(t, c.id);
    assert.deepEqual(rows.filter((r) => handedOver(r) === 'queued or sent').map((r) => r.type).sort(), smsTypes);
    assert.deepEqual(rows.filter((r) => r.channel === 'email' && r.status === 'sent').map((r) => r.type).sort(), emailTypes);
    assert.equal(rows.length, smsTypes.length + emailTypes.length, 'nothing else written');

    const messages = await smsRowsOf(t, c.id);
    assert.deepEqual(messages.map((m) => m.type).sort(), smsTypes);
    const lanes = await rawRows<{ type: string; name: string }>(t.ctx.db, sql`
      select m.type, j.name from sms_messages m join pgboss.job j on j.data->>'messageId' = m.id::text
      where m.user_id = ${c.id}`);
    for (const { type, name } of lanes) assert.equal(name, CATALOGUE.find((s) => s.id === type)?.lane, `${type} on its lane`);
    assert.equal(smsAt(t, c.phone).length, smsTypes.length, 'each SMS sent once');
    assert.equal(f.smtp.to(c.email!).length, emailTypes.length, 'each email sent once');
    assert.ok(f.smtp.to(c.email!).some((m) => m.subject === 'Unusual activity on your account'));
  });

  it('email only: the customer gets an email at the SMTP server and no SMS', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const c = await addCustomer(t);
    await setPreference(t.ctx.db, c.id, 'transaction', { sms: false, email: true });
    await notify(t, c.id, 'transaction');
    const [mail] = await mailArrived(f.smtp, c.email, 1);
    assert.equal(mail?.subject, 'Transaction on your account');
    assert.match(mail?.data ?? '', /Corner Cafe/);
    const rows = await settled(t, c.id);
    assert.deepEqual(rows.map((r) => [r.channel, r.status]), [['email', 'sent']]);
    assert.equal(smsAt(t, c.phone).length, 0);
  });

  it('both: an SMS and an email; none: nothing at all', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const both = await addCustomer(t);
    await setPreference(t.ctx.db, both.id, 'transaction', { sms: true, email: true });
    await notify(t, both.id, 'transaction');
    await smsArrived(t, both.phone, 1);
    await mailArrived(f.smtp, both.email, 1);
    const none = await addCustomer(t);
    await setPreference(t.ctx.db, none.id, 'transaction', { sms: false, email: false });
    const queued = await notify(t, none.id, 'transaction');
    assert.deepEqual(queued.notifications, []);
    assert.deepEqual(await notificationsOf(t, none.id), []);
  });

  it('the critical floor holds: codes keep SMS, security alerts keep a channel, even against a stored choice under it', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const c = await addCustomer(t, { email: null });
    await assert.rejects(setPreference(t.ctx.db, c.id, 'two_factor_code', { sms: false, email: false }), (e: unknown) => e instanceof AppError && e.code === 'validation_failed');
    await assert.rejects(setPreference(t.ctx.db, c.id, 'suspicious_activity', { sms: false, email: false }), /cannot be switched off entirely/);
    // A choice under the floor that reached the table anyway (by hand, or before the floor) is not obeyed.
    await t.ctx.db.insert(notificationPreferences).values({ userId: c.id, type: 'suspicious_activity', sms: false, email: false });
    await notify(t, c.id, 'suspicious_activity');
    // Email only, without an address: the alert goes by SMS rather than nowhere.
    await setPreference(t.ctx.db, c.id, 'new_device_login', { sms: false, email: true });
    await notify(t, c.id, 'new_device_login');
    await smsArrived(t, c.phone, 2);
    const rows = await settled(t, c.id);
    const reasons = rows.map((r) => [r.type, r.channel, handedOver(r), r.reason]);
    assert.deepEqual(reasons.filter(([type]) => type === 'suspicious_activity'), [['suspicious_activity', 'sms', 'queued or sent', 'critical_floor']]);
    assert.deepEqual(reasons.filter(([type]) => type === 'new_device_login').sort(), [
      ['new_device_login', 'email', 'skipped', 'no_email_address'],
      ['new_device_login', 'sms', 'queued or sent', 'moved_to_sms: no_email_address'],
    ]);
  });

  it('quiet hours: a transaction at 23:30 in New York waits until 07:00; a suspicious-activity alert goes at once', async () => {
    setClock(f.clock, '2026-11-26T04:30:00Z'); // 23:30 EST
    const { t } = f;
    const c = await addCustomer(t, { email: null });
    const transaction = await notify(t, c.id, 'transaction');
    await notify(t, c.id, 'suspicious_activity');
    const [alert] = await smsArrived(t, c.phone, 1);
    assert.match(alert?.body ?? '', /DominionTrust/);
    const id = transaction.notifications[0]!.id;
    const held = (await settled(t, c.id)).find((r) => r.id === id);
    assert.equal(held?.status, 'held');
    assert.equal(held?.reason, 'quiet_hours');
    assert.equal(held?.holdUntil?.toISOString(), '2026-11-26T12:00:00.000Z', '07:00 EST');
    assert.deepEqual((await dispatchNotification(t.ctx, id)).status, 'held', 'a job that comes early changes nothing');
    assert.equal(smsAt(t, c.phone).length, 1, 'nothing more at night');

    setClock(f.clock, '2026-11-26T12:00:00Z');
    const morning = await dispatchNotification(t.ctx, id);
    assert.deepEqual([morning.status, morning.reason], ['queued', 'quiet_hours'], 'sent, and the record says why it went late');
    await smsArrived(t, c.phone, 2);
  });

  it('a dispatch job run twice (or three times, at once) sends once', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const c = await addCustomer(t);
    const queued = await notify(t, c.id, 'transfer_sent');
    const id = queued.notifications[0]!.id;
    const outcomes = await Promise.all([dispatchNotification(t.ctx, id), dispatchNotification(t.ctx, id)]);
    await smsArrived(t, c.phone, 1);
    await dispatchNotification(t.ctx, id);
    await new Promise((r) => setTimeout(r, 500)); // room for a duplicate to show up
    assert.equal(smsAt(t, c.phone).length, 1);
    assert.equal((await smsRowsOf(t, c.id)).length, 1);
    assert.ok(outcomes.every((o) => o.status === 'queued'));
  });

  it('notifying the same event twice writes one notification per channel and sends once', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const c = await addCustomer(t);
    const first = await notify(t, c.id, 'large_transaction', { eventKey: 'card-authorisation:42' });
    const again = await notify(t, c.id, 'large_transaction', { eventKey: 'card-authorisation:42' });
    assert.deepEqual(again.notifications.map((n) => n.id), first.notifications.map((n) => n.id));
    await smsArrived(t, c.phone, 1);
    await mailArrived(f.smtp, c.email, 1);
    assert.equal((await settled(t, c.id)).length, 2);
    const jobs = await rawRows<{ n: number }>(t.ctx.db, sql`
      select count(*)::int as n from pgboss.job where data->>'notificationId' in (select id::text from notifications where user_id = ${c.id})`);
    assert.equal(jobs[0]?.n, 2, 'one job per notification');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(smsAt(t, c.phone).length, 1);
    assert.equal(f.smtp.to(c.email!).length, 1);
  });

  it('a notification whose job was lost is given a new one by the sweep, once it is overdue', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const c = await addCustomer(t);
    await t.ctx.db.transaction(async (tx) => {
      const queued = await notifyUser(t.ctx, tx, { userId: c.id, type: 'transfer_sent', values: exampleValues(CATALOGUE.find((s) => s.id === 'transfer_sent')!) });
      await tx.execute(sql`delete from pgboss.job where data->>'notificationId' = ${queued.notifications[0]!.id}`);
    });
    assert.equal(await sweepNotifications(t.ctx), 0, 'not overdue yet');
    f.clock.advance(OVERDUE_MS + 1_000);
    assert.equal(await sweepNotifications(t.ctx), 1);
    await smsArrived(t, c.phone, 1);
    assert.equal(await sweepNotifications(t.ctx), 0, 'decided: nothing left to sweep');
  });

  it('a bank change that rolls back leaves no notification and no job', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const c = await addCustomer(t);
    await assert.rejects(t.ctx.db.transaction(async (tx) => {
      await notifyUser(t.ctx, tx, { userId: c.id, type: 'transfer_sent', values: exampleValues(CATALOGUE.find((s) => s.id === 'transfer_sent')!) });
      throw new Error('transfer refused');
    }), /transfer refused/);
    assert.deepEqual(await notificationsOf(t, c.id), []);
  });
});
