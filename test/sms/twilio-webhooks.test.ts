// Twilio's webhooks through the real HTTP layer: status callbacks and inbound SMS are refused
// without a valid X-Twilio-Signature (and change nothing), statuses never move backwards, a
// callback racing a status check ends in one state, the timeline tells which of them moved a
// message, and STOP / START / HELP texted by a customer steer the notification pipeline.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import twilio from 'twilio';
import { phoneStatus, smsInbound, smsMessages, userProfiles } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { recordProviderStatus } from '../../src/sms/delivery.ts';
import { checkStatusNow } from '../../src/sms/status-sweep.ts';
import { HELP_TEXT } from '../../src/sms/inbound.ts';
import { eventually, TEST_AUTH_TOKEN, TEST_SENDER } from '../helpers/context.ts';
import { customer } from '../helpers/customers.ts';
import {
  addCustomer, mailArrived, notify, openPipeline, settled, smsArrived, type PipelineFixture,
} from '../notifications/pipeline-fixture.ts';

const PUBLIC_URL = 'https://bank.example.test';
const STATUS_URL = `${PUBLIC_URL}/webhooks/twilio/status`;
const INBOUND_URL = `${PUBLIC_URL}/webhooks/twilio/inbound`;

let sids = 0;
function newSid(): string {
  sids++;
  return `SM${String(sids).padStart(8, '0')}${'ab'.repeat(12)}`;
}

function post(app: FastifyInstance, url: string, params: Record<string, string>, signature: string | undefined) {
  const path = new URL(url).pathname + new URL(url).search;
  return app.inject({
    method: 'POST',
    url: path,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature !== undefined && { 'x-twilio-signature': signature }) },
    payload: new URLSearchParams(params).toString(),
  });
}

/** Posts as Twilio does: signed with the auth token over the public URL and the parameters. */
function signedPost(app: FastifyInstance, url: string, params: Record<string, string>, authToken = TEST_AUTH_TOKEN) {
  return post(app, url, params, twilio.getExpectedTwilioSignature(authToken, url, params));
}

function statusParams(sid: string, status: string, extra: Record<string, string> = {}): Record<string, string> {
  return { AccountSid: 'AC0123456789abcdef0123456789abcdef', MessageSid: sid, MessageStatus: status, SmsSid: sid, SmsStatus: status, From: TEST_SENDER, To: '+14155552671', ApiVersion: '2010-04-01', ...extra };
}

function inboundParams(sid: string, from: string, body: string): Record<string, string> {
  return { AccountSid: 'AC0123456789abcdef0123456789abcdef', MessageSid: sid, SmsMessageSid: sid, From: from, To: TEST_SENDER, Body: body, NumMedia: '0', ApiVersion: '2010-04-01' };
}

describe('Twilio webhooks', () => {
  let f: PipelineFixture;
  let app: FastifyInstance;
  before(async () => {
    f = await openPipeline({ env: { PUBLIC_BASE_URL: PUBLIC_URL } });
    app = buildApp(f.t.ctx);
    await app.ready();
  });
  after(async () => {
    await app.close();
    await f.close();
  });

  /** A message the provider accepted, as the worker records it. */
  async function sentMessage(status = 'queued', to = '+14155552671') {
    const sid = newSid();
    const [row] = await f.t.ctx.db.insert(smsMessages).values({
      type: 'transaction', toNumber: to, fromNumber: TEST_SENDER, bodyRedacted: 'DominionTrust: test', encoding: 'GSM-7',
      segments: 1, priceEstimate: '0.00750', status, twilioSid: sid, attempts: 1, sentAt: f.clock.now(),
    }).returning();
    assert.ok(row);
    return { id: row.id, sid };
  }

  /** `count` messages to `phone` reported undelivered as a landline (30006) by their callbacks. */
  async function landlineFailures(phone: string, count: number) {
    for (let i = 0; i < count; i++) {
      const { sid } = await sentMessage('sent', phone);
      assert.equal((await signedPost(app, STATUS_URL, statusParams(sid, 'undelivered', { ErrorCode: '30006', To: phone }))).statusCode, 204);
    }
  }

  async function rowOf(id: string) {
    const [row] = await f.t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, id));
    assert.ok(row);
    return row;
  }

  async function phoneRow(phone: string) {
    const [row] = await f.t.ctx.db.select().from(phoneStatus).where(eq(phoneStatus.phoneNumber, phone));
    return row;
  }

  describe('status callbacks', () => {
    it('refuses a callback without a signature, or with a wrong one, with 403 and changes nothing', async () => {
      const { id, sid } = await sentMessage();
      const params = statusParams(sid, 'delivered');
      const missing = await post(app, STATUS_URL, params, undefined);
      assert.equal(missing.statusCode, 403);
      assert.match(missing.json<{ message: string }>().message, /X-Twilio-Signature is missing/);
      const wrongToken = await signedPost(app, STATUS_URL, params, 'not-the-auth-token-0000000000000');
      assert.equal(wrongToken.statusCode, 403);
      assert.match(wrongToken.json<{ message: string }>().message, /does not match/);
      // Signed over another URL (what a misconfigured PUBLIC_BASE_URL gives), or with a changed parameter.
      const otherUrl = await post(app, STATUS_URL, params, twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, 'http://localhost:8000/webhooks/twilio/status', params));
      assert.equal(otherUrl.statusCode, 403);
      const tampered = await post(app, STATUS_URL, { ...params, MessageStatus: 'failed' }, twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, STATUS_URL, params));
      assert.equal(tampered.statusCode, 403);
      const row = await rowOf(id);
      assert.equal(row.status, 'queued');
      assert.equal(row.deliveredAt, null);
    });

    it('applies a signed delivered callback', async () => {
      const { id, sid } = await sentMessage();
      const response = await signedPost(app, STATUS_URL, statusParams(sid, 'delivered'));
      assert.equal(response.statusCode, 204);
      const row = await rowOf(id);
      assert.equal(row.status, 'delivered');
      assert.ok(row.deliveredAt);
    });

    it('never moves a message backwards when callbacks arrive late or out of order', async () => {
      const { id, sid } = await sentMessage('sending');
      for (const status of ['delivered', 'sent', 'queued', 'sending', 'undelivered']) {
        assert.equal((await signedPost(app, STATUS_URL, statusParams(sid, status))).statusCode, 204);
      }
      assert.equal((await rowOf(id)).status, 'delivered');
      // A late 'sent' before the final one still moves it forward.
      const second = await sentMessage('queued');
      await signedPost(app, STATUS_URL, statusParams(second.sid, 'sent'));
      assert.equal((await rowOf(second.id)).status, 'sent');
      await signedPost(app, STATUS_URL, statusParams(second.sid, 'queued'));
      assert.equal((await rowOf(second.id)).status, 'sent');
    });

    it('records a carrier failure with its code, counts it, and marks the number at the third in a row', async () => {
      const phone = '+14155553001';
      const { id, sid } = await sentMessage('sent', phone);
      const undelivered = statusParams(sid, 'undelivered', { ErrorCode: '30006', To: phone });
      await signedPost(app, STATUS_URL, undelivered);
      const row = await rowOf(id);
      assert.equal(row.status, 'undelivered');
      assert.equal(row.errorCode, 30006);
      assert.ok(row.errorMessage);
      await signedPost(app, STATUS_URL, undelivered); // Twilio retried the callback: counted once
      assert.deepEqual([(await phoneRow(phone))?.permanentFailures, (await phoneRow(phone))?.unreachableAt], [1, null]);
      await landlineFailures(phone, 2);
      const marked = await phoneRow(phone);
      assert.equal(marked?.permanentFailures, 3);
      assert.ok(marked?.unreachableAt, 'a landline (30006) is marked unreachable at SMS_UNREACHABLE_AFTER (3)');
    });

    it('answers 204 for an unknown MessageSid and logs it', async () => {
      const sid = newSid();
      const response = await signedPost(app, STATUS_URL, statusParams(sid, 'delivered'));
      assert.equal(response.statusCode, 204);
      assert.match(await f.t.readLog(), new RegExp(`"messageSid":"${sid}".*status callback for an unknown message ignored`));
    });

    it('answers 400 with what is wrong for a signed callback without a usable MessageSid', async () => {
      const params = { MessageStatus: 'delivered', MessageSid: 'nonsense' };
      const response = await signedPost(app, STATUS_URL, params);
      assert.equal(response.statusCode, 400);
      assert.match(response.json<{ message: string }>().message, /MessageSid must be SM/);
    });

    it('a callback and a status check racing leave one final state, counted once', async () => {
      const phone = '+14155553002';
      const { id, sid } = await sentMessage('sent', phone);
      const metricBefore = await failedCount();
      const [callback, polled] = await Promise.all([
        signedPost(app, STATUS_URL, statusParams(sid, 'undelivered', { ErrorCode: '30003', To: phone })),
        f.t.ctx.db.transaction((tx) => recordProviderStatus(f.t.ctx, tx, { id, type: 'transaction', toNumber: phone }, { status: 'undelivered', errorCode: 30003 }, f.clock.now(), 'status_check')),
      ]);
      assert.equal(callback.statusCode, 204);
      const row = await rowOf(id);
      assert.equal(row.status, 'undelivered');
      assert.equal(row.errorCode, 30003);
      assert.equal(await failedCount(), metricBefore + 1, `counted once (the check applied: ${polled})`);
      // And a stale 'sent' from a check after the callback does not undo it.
      await f.t.ctx.db.transaction((tx) => recordProviderStatus(f.t.ctx, tx, { id, type: 'transaction', toNumber: phone }, { status: 'sent', errorCode: null }, f.clock.now(), 'callback'));
      assert.equal((await rowOf(id)).status, 'undelivered');
    });

    it("the timeline tells a status callback from a status check", async () => {
      const staff = await customer(f.t, 'webhook-staff', '+14155553090', { isStaff: true });
      const timeline = async (id: string) => {
        const res = await app.inject({ url: `/api/staff/messages/${id}`, headers: staff.auth });
        assert.equal(res.statusCode, 200, res.body);
        return res.json<{ steps: { kind: string; title: string; detail: string | null; source: string | null }[] }>().steps.filter((s) => s.kind === 'status');
      };
      // One moved by a signed callback through the HTTP layer...
      const byCallback = await sentMessage('sent', '+14155553091');
      assert.equal((await signedPost(app, STATUS_URL, statusParams(byCallback.sid, 'delivered', { To: '+14155553091' }))).statusCode, 204);
      // ...one by the status sweep asking the simulator about a message it really holds.
      const sent = await f.t.ctx.provider.send({ to: '+14155553092', from: TEST_SENDER, body: 'DominionTrust: checked' });
      const [checked] = await f.t.ctx.db.insert(smsMessages).values({
        type: 'transaction', toNumber: '+14155553092', fromNumber: TEST_SENDER, bodyRedacted: 'DominionTrust: checked', encoding: 'GSM-7',
        segments: 1, priceEstimate: '0.00750', status: 'queued', twilioSid: sent.sid, attempts: 1, sentAt: f.clock.now(),
        statusCheckAt: f.clock.now(),
      }).returning();
      assert.ok(checked);
      await eventually(async () => (await f.t.ctx.provider.fetchMessage(sent.sid)).status === 'delivered' || undefined, 5_000, 'the simulator to deliver');
      assert.equal(await checkStatusNow(f.t.ctx, checked.id), 'delivered');

      const [fromCallback] = await timeline(byCallback.id);
      const [fromCheck] = await timeline(checked.id);
      assert.deepEqual([fromCallback?.title, fromCallback?.source], ['status delivered', 'callback']);
      assert.match(fromCallback?.detail ?? '', /from sent, reported by Twilio's status callback/);
      assert.deepEqual([fromCheck?.title, fromCheck?.source], ['status delivered', 'status_check']);
      assert.match(fromCheck?.detail ?? '', /from queued, reported by our status check at Twilio/);
      // The source lasts one transaction: a later change that names none is not credited to it.
      await f.t.ctx.db.update(smsMessages).set({ status: 'canceled', updatedAt: f.clock.now() }).where(eq(smsMessages.id, checked.id));
      const after = await timeline(checked.id);
      assert.deepEqual(after.map((s) => s.source), ['status_check', null]);
    });

    async function failedCount(): Promise<number> {
      const metrics = await f.t.ctx.metrics.registry.getSingleMetricAsString('dominion_sms_sent_total');
      return Number(/type="transaction",status="undelivered"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    }
  });

  describe('inbound SMS', () => {
    it('refuses an unsigned inbound message: nothing stored, no opt-out', async () => {
      const c = await addCustomer(f.t);
      const sid = newSid();
      const response = await post(app, INBOUND_URL, inboundParams(sid, c.phone!, 'STOP'), 'bm90IGEgc2lnbmF0dXJl');
      assert.equal(response.statusCode, 403);
      assert.equal((await f.t.ctx.db.select().from(smsInbound).where(eq(smsInbound.twilioSid, sid))).length, 0);
      assert.equal(await phoneRow(c.phone!), undefined);
    });

    it('STOP moves the next transaction alert to email; START brings SMS back', async () => {
      const c = await addCustomer(f.t);
      const phone = c.phone!;
      const stop = await signedPost(app, INBOUND_URL, inboundParams(newSid(), phone, '  stop '));
      assert.equal(stop.statusCode, 200);
      assert.match(String(stop.headers['content-type']), /^text\/xml/);
      // No text of ours: Twilio confirms the opt-out itself.
      assert.doesNotMatch(stop.body, /<Message>/);
      assert.match(stop.body, /<Response\s*\/>|<Response><\/Response>/);
      const marked = await phoneRow(phone);
      assert.ok(marked?.optedOutAt);
      assert.equal(marked.reason, 'replied STOP');

      await notify(f.t, c.id, 'transaction');
      const [mail] = await mailArrived(f.smtp, c.email, 1);
      assert.match(mail?.subject ?? '', /^Transaction/);
      const rows = await settled(f.t, c.id);
      assert.deepEqual(rows.map((r) => [r.channel, r.status, r.reason]).sort(), [
        ['email', 'sent', 'moved_to_email: phone_opted_out'],
        ['sms', 'skipped', 'moved_to_email: phone_opted_out'],
      ]);
      assert.equal(f.t.sim.messages().filter((m) => m.to === phone).length, 0, 'no SMS after STOP');

      const start = await signedPost(app, INBOUND_URL, inboundParams(newSid(), phone, 'Start'));
      assert.equal(start.statusCode, 200);
      assert.doesNotMatch(start.body, /<Message>/);
      assert.equal(await phoneRow(phone), undefined);
      await notify(f.t, c.id, 'transaction');
      const [sms] = await smsArrived(f.t, phone, 1);
      assert.match(sms?.body ?? '', /DominionTrust/);
    });

    it('a customer without email who texted STOP: the alert is recorded as not sent, with its reason', async () => {
      const c = await addCustomer(f.t, { email: null });
      await signedPost(app, INBOUND_URL, inboundParams(newSid(), c.phone!, 'UNSUBSCRIBE'));
      await notify(f.t, c.id, 'transaction');
      const rows = await settled(f.t, c.id);
      assert.deepEqual(rows.map((r) => [r.channel, r.status, r.reason]), [['sms', 'skipped', 'phone_opted_out']]);
    });

    it('a delivered message does not lift a texted STOP; only START does', async () => {
      const c = await addCustomer(f.t);
      await signedPost(app, INBOUND_URL, inboundParams(newSid(), c.phone!, 'QUIT'));
      // A code still goes to an opted-out number, and is delivered.
      // A carrier failure meanwhile adds its mark but keeps the STOP as the reason.
      await landlineFailures(c.phone!, 3);
      const both = await phoneRow(c.phone!);
      assert.ok(both?.unreachableAt);
      assert.equal(both.reason, 'replied QUIT');
      const { sid } = await sentMessage('sent', c.phone!);
      await signedPost(app, STATUS_URL, statusParams(sid, 'delivered', { To: c.phone! }));
      const after = await phoneRow(c.phone!);
      assert.ok(after?.optedOutAt, 'still opted out');
      assert.equal(after.unreachableAt, null, 'the delivery lifted the failure mark');
      await signedPost(app, INBOUND_URL, inboundParams(newSid(), c.phone!, 'unstop'));
      assert.equal(await phoneRow(c.phone!), undefined);
    });

    it('HELP is answered with the bank help text in TwiML, in the customer\'s language', async () => {
      const c = await addCustomer(f.t);
      const help = await signedPost(app, INBOUND_URL, inboundParams(newSid(), c.phone!, 'help'));
      assert.equal(help.statusCode, 200);
      assert.match(String(help.headers['content-type']), /^text\/xml/);
      assert.equal(help.body, `<?xml version="1.0" encoding="UTF-8"?><Response><Message>${HELP_TEXT.en!.replace(/&/g, '&amp;')}</Message></Response>`);
      assert.equal(await phoneRow(c.phone!), undefined, 'HELP changes nothing');

      const es = await addCustomer(f.t);
      await f.t.ctx.db.update(userProfiles).set({ language: 'es' }).where(eq(userProfiles.userId, es.id));
      const ayuda = await signedPost(app, INBOUND_URL, inboundParams(newSid(), es.phone!, 'INFO'));
      assert.match(ayuda.body, /Responda STOP/);
    });

    it('stores each inbound message once, however often Twilio retries it', async () => {
      const c = await addCustomer(f.t);
      const sid = newSid();
      const params = inboundParams(sid, c.phone!, 'Is my card blocked?');
      for (let i = 0; i < 3; i++) {
        const response = await signedPost(app, INBOUND_URL, params);
        assert.equal(response.statusCode, 200);
        assert.doesNotMatch(response.body, /<Message>/);
      }
      const stored = await f.t.ctx.db.select().from(smsInbound).where(eq(smsInbound.twilioSid, sid));
      assert.equal(stored.length, 1);
      assert.equal(stored[0]?.body, 'Is my card blocked?');
      assert.equal(stored[0]?.keyword, null);
      assert.equal(stored[0]?.fromNumber, c.phone);

      // A retried STOP after START is not applied again.
      const stopSid = newSid();
      await signedPost(app, INBOUND_URL, inboundParams(stopSid, c.phone!, 'STOP'));
      await signedPost(app, INBOUND_URL, inboundParams(newSid(), c.phone!, 'START'));
      await signedPost(app, INBOUND_URL, inboundParams(stopSid, c.phone!, 'STOP'));
      assert.equal(await phoneRow(c.phone!), undefined, 'the retried STOP did not opt the customer out again');
    });

    it('honours Twilio\'s Advanced Opt-Out reading (OptOutType) of a custom keyword', async () => {
      const c = await addCustomer(f.t);
      await signedPost(app, INBOUND_URL, { ...inboundParams(newSid(), c.phone!, 'ARRET'), OptOutType: 'STOP' });
      assert.equal((await phoneRow(c.phone!))?.reason, 'replied STOP');
    });
  });
});
