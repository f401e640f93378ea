// A number texts no longer reach (issue 13, point 5): each permanent failure in a row counts, the
// SMS_UNREACHABLE_AFTER-th marks the number, its owner is emailed once how to fix it (replays and
// further failures send nothing more), alerts then go by email, sign-in offers a call instead of a
// text, staff see the count, the mark and the email on the profile, and a delivery or a staff
// clearing starts everything afresh.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { notifyPhoneUnreachable } from '../../src/notifications/unreachable.ts';
import { clearPhoneStatus, findPhoneStatus, markPhoneFromFailure } from '../../src/sms/phone-status.ts';
import { clearUnreachable, getProfile } from '../../src/staff/profiles.ts';
import { createUser } from '../../src/users/users.ts';
import { eventually } from '../helpers/context.ts';
import { PASSWORD } from '../helpers/customers.ts';
import { addCustomer, mailArrived, notificationsOf, notify, openPipeline, settled, smsRowsOf, type PipelineFixture } from '../notifications/pipeline-fixture.ts';

const SUBJECT = 'Our texts cannot reach your phone';
/** Twilio's magic 'To' number that is "not a valid mobile number" (21614), a permanent failure. */
const NOT_MOBILE = '+15005550009';

describe('a number texts no longer reach', () => {
  let f: PipelineFixture;
  let app: FastifyInstance;
  before(async () => {
    f = await openPipeline({ env: { CODE_IP_LIMIT: '0', LOGIN_IP_LIMIT: '0' } });
    app = buildApp(f.t.ctx);
    await app.ready();
  });
  after(async () => {
    await app.close();
    await f.close();
  });

  const noticesTo = (email: string | null) => f.smtp.to(email ?? '').filter((m) => m.subject === SUBJECT);
  const profile = (id: string) => getProfile(f.t.ctx.db, f.t.ctx.config, id, f.clock.now());
  async function failures(userId: string, count: number) {
    await eventually(async () => ((await smsRowsOf(f.t, userId)).filter((r) => r.status === 'failed').length >= count ? true : undefined), 15_000, `${count} failed SMS`);
  }

  it('is marked at the third permanent failure in a row; the customer is emailed once, and alerts go by email', async () => {
    assert.equal(f.t.ctx.config.smsUnreachableAfter, 3, 'the default threshold');
    const c = await addCustomer(f.t, { phone: NOT_MOBILE });
    for (let i = 1; i <= 2; i++) {
      await notify(f.t, c.id, 'transfer_sent');
      await failures(c.id, i);
      const seen = await profile(c.id);
      assert.deepEqual([seen.permanentFailures, seen.unreachableAt], [i, null], `not marked after ${i} failure(s)`);
    }
    assert.equal(noticesTo(c.email).length, 0, 'no email before the number is marked');

    await notify(f.t, c.id, 'transfer_sent');
    await failures(c.id, 3);
    const marked = await profile(c.id);
    assert.equal(marked.permanentFailures, 3);
    assert.ok(marked.unreachableAt, 'marked at the third failure');
    assert.match(marked.phoneMarkReason ?? '', /^21614 /, 'staff see the Twilio error behind it');

    const [mail] = await mailArrived(f.smtp, c.email, 1);
    assert.equal(mail?.subject, SUBJECT);
    const text = (mail?.data ?? '').replace(/=\r\n/g, ''); // quoted-printable soft line breaks
    assert.match(text, /ending 0009 have not been delivered/);
    assert.match(text, /ask for your code by voice call/);
    assert.match(text, /reply START/);
    const told = await eventually(async () => ((await profile(c.id)).unreachableNotifiedAt ? profile(c.id) : undefined));
    assert.ok(told.unreachableNotifiedAt, 'staff see when the customer was told');

    // The job again (a replay), and a fourth failure reported for the number: no second email.
    const status = await findPhoneStatus(f.t.ctx.db, NOT_MOBILE);
    await notifyPhoneUnreachable(f.t.ctx, { phoneNumber: NOT_MOBILE, markedAt: status!.unreachableAt!.toISOString() });
    await f.t.ctx.db.transaction((tx) => markPhoneFromFailure(f.t.ctx, tx, NOT_MOBILE, 21614, f.clock.now()));
    // The next alert is not texted to fail again.
    const next = await notify(f.t, c.id, 'transfer_sent');
    const rows = (await settled(f.t, c.id)).filter((r) => r.eventKey === next.eventKey);
    assert.deepEqual(rows.map((r) => [r.channel, r.status, r.reason]).sort(), [
      ['email', 'sent', 'moved_to_email: phone_unreachable'],
      ['sms', 'skipped', 'moved_to_email: phone_unreachable'],
    ]);
    assert.equal((await smsRowsOf(f.t, c.id)).length, 3, 'no fourth SMS to the marked number');
    await sleep(1500); // room for a second email to show up
    assert.equal(noticesTo(c.email).length, 1, 'emailed once');
    const unreachableNotices = (await notificationsOf(f.t, c.id)).filter((r) => r.type === 'phone_unreachable');
    assert.deepEqual(unreachableNotices.map((r) => [r.channel, r.status]), [['email', 'sent']]);
  });

  it('a delivery in between starts the count again', async () => {
    const phone = '+14155556101';
    const ctx = f.t.ctx;
    const fail = () => ctx.db.transaction((tx) => markPhoneFromFailure(ctx, tx, phone, 30005, f.clock.now()));
    assert.equal(await fail(), undefined);
    assert.equal(await fail(), undefined);
    await clearPhoneStatus(ctx.db, phone); // what a delivered message does
    assert.equal(await fail(), undefined);
    assert.equal(await fail(), undefined);
    assert.equal((await findPhoneStatus(ctx.db, phone))?.unreachableAt, null, 'two in a row, not four');
    assert.equal(await fail(), 'unreachable', 'the third in a row marks it');
  });

  it('sign-in does not text a marked number: it says why and offers a call; staff clearing the mark starts afresh', async () => {
    const phone = '+14155556102';
    const user = await createUser(f.t.ctx, { username: 'unreachable-ana', password: PASSWORD, phone, email: 'unreachable-ana@example.com' });
    // A landline (30006), reported three times by status callbacks or checks.
    for (let i = 0; i < 3; i++) await f.t.ctx.db.transaction((tx) => markPhoneFromFailure(f.t.ctx, tx, phone, 30006, f.clock.now()));
    await mailArrived(f.smtp, user.email, 1);

    const login = await app.inject({ method: 'POST', url: '/api/login', payload: { username: 'unreachable-ana', password: PASSWORD } });
    assert.equal(login.statusCode, 200, login.body);
    const { delivery, smsSent } = login.json<{ smsSent: boolean; delivery: { channel: string; problem: string; choices: string[]; message: string } }>();
    assert.equal(smsSent, false);
    assert.deepEqual([delivery.channel, delivery.problem], ['none', 'phone_unreachable']);
    assert.ok(delivery.choices.includes('voice'), delivery.message);
    assert.match(delivery.message, /cannot receive texts.*voice call/);
    assert.equal(f.t.sim.messages().filter((m) => m.to === phone).length, 0, 'no code texted to the marked number');

    const staff = await createUser(f.t.ctx, { username: 'unreachable-staff', password: PASSWORD, phone: '+14155556103', isStaff: true });
    await clearUnreachable(f.t.ctx, staff.id, user.id);
    const cleared = await profile(user.id);
    assert.deepEqual([cleared.unreachableAt, cleared.permanentFailures, cleared.unreachableNotifiedAt], [null, 0, null]);
    // Marked again later: the customer hears of it again, once.
    for (let i = 0; i < 3; i++) await f.t.ctx.db.transaction((tx) => markPhoneFromFailure(f.t.ctx, tx, phone, 30006, new Date(f.clock.now().getTime() + 60_000)));
    await eventually(() => (noticesTo(user.email).length === 2 ? true : undefined), 15_000, 'a second email after a second marking');
  });
});
