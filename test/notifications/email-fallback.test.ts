// Email as the alternative channel, through a real SMTP server on loopback: a number that failed
// for good (opted out, not a mobile) is marked and the next notification goes by email; without
// an address the outcome is recorded with its reason (failed for a critical alert, never silent).
// Every provider call is recorded; the SMTP server's "try later" is retried, its "no" recorded.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eq, inArray } from 'drizzle-orm';
import { phoneStatus, smsDeliveryAttempts } from '../../src/db/schema.ts';
import { sendEmailNotification } from '../../src/notifications/email.ts';
import { setPreference } from '../../src/notifications/preferences.ts';
import { eventually } from '../helpers/context.ts';
import {
  addCustomer, handedOver, mailArrived, notify, openPipeline, setClock, settled, smsArrived, smsAt, smsRowsOf, type PipelineFixture,
} from './pipeline-fixture.ts';

const DAYTIME = '2026-11-25T15:00:00Z';

describe('email as the alternative channel', () => {
  let f: PipelineFixture;
  before(async () => {
    f = await openPipeline();
  });
  after(() => f.close());

  async function failedSms(userId: string, count: number) {
    return eventually(async () => {
      const rows = await smsRowsOf(f.t, userId);
      return rows.filter((r) => r.status === 'failed').length >= count ? rows : undefined;
    }, 15_000, 'the SMS to fail');
  }

  it('an opted-out number (21610) is marked from the failure; the next notification goes by email', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const c = await addCustomer(t, { phone: '+15005550004' });
    await notify(t, c.id, 'transfer_sent');
    const [failed] = await failedSms(c.id, 1);
    assert.equal(failed?.errorCode, 21610);
    const attempts = await t.ctx.db.select().from(smsDeliveryAttempts).where(eq(smsDeliveryAttempts.smsMessageId, failed.id));
    assert.deepEqual(attempts.map((a) => [a.attempt, a.outcome, a.twilioCode, a.errorKind]), [[1, 'failed', 21610, 'opted_out']]);
    const [marked] = await t.ctx.db.select().from(phoneStatus).where(eq(phoneStatus.phoneNumber, '+15005550004'));
    assert.ok(marked?.optedOutAt);
    assert.equal(marked.reason, '21610 Attempt to send to unsubscribed recipient (Recipient Opted Out)');

    await notify(t, c.id, 'transfer_sent');
    const [mail] = await mailArrived(f.smtp, c.email, 1);
    assert.equal(mail?.subject, 'Transfer sent');
    const rows = await settled(t, c.id);
    assert.deepEqual(rows.map((r) => [r.channel, r.status, r.reason]).sort(), [
      ['email', 'sent', 'moved_to_email: phone_opted_out'],
      // The refused SMS's notification followed its message to its end, with Twilio's reason.
      ['sms', 'failed', 'sms_failed: 21610 Attempt to send to unsubscribed recipient (Recipient Opted Out)'],
      ['sms', 'skipped', 'moved_to_email: phone_opted_out'],
    ]);
    assert.equal((await smsRowsOf(t, c.id)).length, 1, 'no second SMS to the opted-out number');
  });

  it('an unreachable number (21614 three times) without an email address: a critical alert fails with its reason, others are skipped', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const c = await addCustomer(t, { phone: '+15005550009', email: null });
    // SMS_UNREACHABLE_AFTER (3): each failure in a row counts; the third marks the number.
    for (let i = 1; i <= 3; i++) {
      await notify(t, c.id, 'transfer_sent');
      await failedSms(c.id, i);
    }
    await notify(t, c.id, 'transfer_sent');
    await notify(t, c.id, 'suspicious_activity');
    // The 'phone cannot receive texts' email has its own test (test/sms/unreachable.test.ts).
    const rows = (await settled(t, c.id)).filter((r) => r.type !== 'phone_unreachable');
    assert.deepEqual(rows.map((r) => [r.type, r.channel, r.status, r.reason ?? '']).sort(), [
      ['suspicious_activity', 'email', 'skipped', 'no_email_address'],
      ['suspicious_activity', 'sms', 'failed', 'phone_unreachable'],
      ...Array.from({ length: 3 }, () => ['transfer_sent', 'sms', 'failed', "sms_failed: 21614 'To' number is not a valid mobile number (Invalid Phone Number)"]),
      ['transfer_sent', 'sms', 'skipped', 'phone_unreachable'],
    ]);
    // Nobody could be told by email: the record says so, and staff do not see 'customer emailed'.
    const notice = await eventually(async () => (await settled(t, c.id)).find((r) => r.type === 'phone_unreachable'));
    assert.deepEqual([notice.channel, notice.status, notice.reason], ['email', 'skipped', 'no_email_address']);
    const [mark] = await t.ctx.db.select().from(phoneStatus).where(eq(phoneStatus.phoneNumber, '+15005550009'));
    assert.equal(mark?.unreachableNotifiedAt, null);
  });

  it('every provider call is recorded: an accepted send has its attempt row', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const c = await addCustomer(t);
    await notify(t, c.id, 'transfer_sent');
    await smsArrived(t, c.phone, 1);
    const ids = (await smsRowsOf(t, c.id)).map((m) => m.id);
    const attempts = await eventually(async () => {
      const rows = await t.ctx.db.select().from(smsDeliveryAttempts).where(inArray(smsDeliveryAttempts.smsMessageId, ids));
      return rows.length ? rows : undefined;
    });
    assert.deepEqual(attempts.map((a) => [a.attempt, a.outcome, a.twilioCode]), [[1, 'accepted', null]]);
  });

  it('an SMTP "try later" (451) is retried and then sent; a "no" (550) is recorded as failed with the answer', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    f.smtp.busy = true;
    const busy = await addCustomer(t, { email: 'ana@busy.test' });
    const bounce = await addCustomer(t, { email: 'bob@bounce.test' });
    for (const c of [busy, bounce]) await setPreference(t.ctx.db, c.id, 'transfer_sent', { sms: false, email: true });
    const queued = await notify(t, busy.id, 'transfer_sent');
    await notify(t, bounce.id, 'transfer_sent');
    const [waiting] = await eventually(async () => {
      const rows = await settled(t, busy.id);
      return rows[0]?.status === 'held' ? rows : undefined;
    });
    assert.match(waiting?.reason ?? '', /^email_retry: Email not sent: the mail server answered 451/);
    const [refused] = await settled(t, bounce.id);
    assert.equal(refused?.status, 'failed');
    assert.match(refused?.reason ?? '', /^email_failed: .*550/);

    f.smtp.busy = false;
    setClock(f.clock, waiting!.holdUntil!.toISOString());
    const id = queued.notifications[0]!.id;
    assert.equal(await sendEmailNotification(t.ctx, id), 'sent');
    assert.equal(await sendEmailNotification(t.ctx, id), undefined, 'a replay sends nothing');
    await mailArrived(f.smtp, 'ana@busy.test', 1);
    assert.equal(f.smtp.to('ana@busy.test').length, 1);
  });

  it('a critical alert whose email is refused for good goes by SMS instead, once; a non-critical one does not', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const c = await addCustomer(t, { email: 'carl@bounce.test' });
    await setPreference(t.ctx.db, c.id, 'new_device_login', { sms: false, email: true });
    await setPreference(t.ctx.db, c.id, 'transfer_sent', { sms: false, email: true });
    await notify(t, c.id, 'new_device_login');
    await notify(t, c.id, 'transfer_sent');
    const [sms] = await smsArrived(t, c.phone, 1);
    assert.match(sms!.body, /^DominionTrust: new sign-in from iPhone/);
    const rows = await eventually(async () => {
      const all = await settled(t, c.id);
      return all.some((r) => handedOver(r) === 'queued or sent') ? all : undefined;
    });
    assert.deepEqual(rows.map((r) => [r.type, r.channel, handedOver(r), r.reason?.replace(/:.*$/, '')]).sort(), [
      ['new_device_login', 'email', 'failed', 'email_failed'],
      ['new_device_login', 'sms', 'queued or sent', 'moved_to_sms'],
      ['transfer_sent', 'email', 'failed', 'email_failed'],
    ]);
    assert.equal(rows.find((r) => r.channel === 'sms')?.reason, 'moved_to_sms: email_failed');
    assert.equal(smsAt(t, c.phone).length, 1, 'the non-critical transfer notice stays failed by email, not moved');
  });
});
