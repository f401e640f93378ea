// Identity checks (KYC) through the HTTP endpoints: a customer submits (only the document's last 4
// kept), one open check at a time; staff list and decide; more information needed lets the
// customer submit again; every status change is a bank event and a `kyc_status` SMS that reveals
// nothing; staff routes need staff; another customer's check answers like a missing one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { and, eq, sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { rawRows } from '../../src/db/connection.ts';
import { bankEvents, notifications } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createTestContext, eventually, HeldClock, type TestContext } from '../helpers/context.ts';
import { customer, inbox, type Customer } from '../helpers/customers.ts';

const KYC_SMS = 'DominionTrust: there is an update on your identity check. Sign in to the DominionTrust app to see it. Reply STOP to opt out.';

let t: TestContext;
let app: FastifyInstance;
let ana: Customer;
let ben: Customer;
let cleo: Customer;
let staff: Customer;

before(async () => {
  t = await createTestContext({ clock: new HeldClock('2026-11-25T15:00:00Z') });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
  ana = await customer(t, 'ana', '+14155558001');
  ben = await customer(t, 'ben', '+14155558002');
  cleo = await customer(t, 'cleo', '+14155558003');
  staff = await customer(t, 'reviewer', '+14155558004', { isStaff: true });
});
after(() => t.close());

interface Submission { id: string; status: string; documentLast4: string; reviewNote: string | null; userId?: string; username?: string }

const SUBMISSION = {
  fullName: 'Ana María López', dateOfBirth: '1990-04-23', documentType: 'passport', documentNumber: 'X1234-5678 9QZ7', address: '12 Elm Street, Springfield, IL 62701',
};

function submit(who: Customer, payload: object = SUBMISSION) {
  return app.inject({ method: 'POST', url: '/api/kyc', headers: who.auth, payload });
}

function review(who: Customer, id: string, payload: object) {
  return app.inject({ method: 'POST', url: `/api/staff/kyc/${id}/review`, headers: who.auth, payload });
}

/** Waits until the phone has received `count` KYC SMS; returns them. */
async function kycSms(who: Customer, count: number): Promise<string[]> {
  return eventually(() => {
    const got = inbox(t, who.phone).filter((b) => b.includes('identity check'));
    return got.length >= count ? got : undefined;
  }, 10_000, `${count} KYC SMS to ${who.user.username}`);
}

async function kycEvents(who: Customer): Promise<string[]> {
  const rows = await t.ctx.db.select().from(bankEvents).where(and(eq(bankEvents.userId, who.user.id), sql`${bankEvents.type} like 'kyc.%'`)).orderBy(bankEvents.createdAt);
  return rows.map((r) => r.type);
}

describe('KYC', () => {
  it('takes a submission, keeps only the last 4 of the document number, and texts the customer', async () => {
    const res = await submit(ana);
    assert.equal(res.statusCode, 201, res.body);
    const submission = res.json<{ submission: Submission }>().submission;
    assert.equal(submission.status, 'submitted');
    assert.equal(submission.documentLast4, '9QZ7');
    // Any stretch of the number longer than its last 4 would betray it.
    const DOCUMENT = /X1234|345678|678 ?9QZ7/i;
    assert.doesNotMatch(res.body, DOCUMENT);

    const [row] = await rawRows<{ row: string }>(t.ctx.db, sql`select row_to_json(k)::text as row from kyc_submissions k where id = ${submission.id}`);
    assert.ok(row);
    assert.doesNotMatch(row.row, DOCUMENT, 'the document number is not stored');
    const events = await rawRows<{ payload: string }>(t.ctx.db, sql`select payload::text from bank_events where user_id = ${ana.user.id}`);
    for (const e of events) assert.doesNotMatch(e.payload, DOCUMENT);
    assert.doesNotMatch(await t.readLog(), DOCUMENT);

    assert.deepEqual(await kycSms(ana, 1), [KYC_SMS]);
    assert.deepEqual(await kycEvents(ana), ['kyc.submitted']);
    const mine = await app.inject({ url: '/api/kyc', headers: ana.auth });
    assert.equal(mine.json<{ submission: Submission }>().submission.id, submission.id);
  });

  it('allows one open submission at a time (409)', async () => {
    const again = await submit(ana);
    assert.equal(again.statusCode, 409);
    assert.match(again.json<{ message: string }>().message, /^Your identity check is already being reviewed/);
  });

  it('two submissions at once: one is taken, the other is 409', async () => {
    const dan = await customer(t, 'dan', '+14155558005');
    const answers = await Promise.all([submit(dan), submit(dan), submit(dan)]);
    assert.deepEqual(answers.map((a) => a.statusCode).sort(), [201, 409, 409]);
    const stored = await rawRows<{ n: number }>(t.ctx.db, sql`select count(*)::int as n from kyc_submissions where user_id = ${dan.user.id}`);
    assert.equal(stored[0]?.n, 1);
  });

  it('refuses bad input with a message saying how to fix it', async () => {
    const cases: [object, RegExp][] = [
      [{ ...SUBMISSION, documentType: 'library_card' }, /^documentType: one of passport, national_id, driving_licence/],
      [{ ...SUBMISSION, dateOfBirth: '23/04/1990' }, /^dateOfBirth: "23\/04\/1990" is not a date; write it as YYYY-MM-DD/],
      [{ ...SUBMISSION, dateOfBirth: '1990-02-30' }, /^dateOfBirth: "1990-02-30" is not a date/],
      [{ ...SUBMISSION, dateOfBirth: '2030-01-01' }, /^dateOfBirth: 2030-01-01 cannot be a date of birth/],
      [{ ...SUBMISSION, documentNumber: '12' }, /^documentNumber: 5 to 20 letters and digits/],
      [{ ...SUBMISSION, fullName: ' ' }, /^fullName: your full name as on the document/],
      [{ fullName: 'Ben Jones' }, /dateOfBirth: /],
    ];
    for (const [payload, message] of cases) {
      const res = await submit(ben, payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.match(res.json<{ message: string }>().message, message);
    }
    const none = await app.inject({ url: '/api/kyc', headers: ben.auth });
    assert.deepEqual(none.json(), { submission: null }, 'nothing was stored');
  });

  it('keeps staff routes for staff: 401 without a session, 403 for a customer', async () => {
    const id = (await app.inject({ url: '/api/kyc', headers: ana.auth })).json<{ submission: Submission }>().submission.id;
    assert.equal((await app.inject({ url: '/api/staff/kyc' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'POST', url: `/api/staff/kyc/${id}/review`, payload: { decision: 'approved' } })).statusCode, 401);
    const list = await app.inject({ url: '/api/staff/kyc', headers: ana.auth });
    assert.equal(list.statusCode, 403);
    const self = await review(ana, id, { decision: 'approved' });
    assert.equal(self.statusCode, 403);
    assert.deepEqual(self.json(), { error: 'forbidden', message: 'Only bank staff may do this: sign in with a staff account.' });
    assert.equal((await app.inject({ url: '/api/kyc', headers: ana.auth })).json<{ submission: Submission }>().submission.status, 'submitted');
  });

  it("answers another customer's check like a missing one (404)", async () => {
    const id = (await app.inject({ url: '/api/kyc', headers: ana.auth })).json<{ submission: Submission }>().submission.id;
    const other = await app.inject({ url: `/api/kyc/${id}`, headers: ben.auth });
    const missing = await app.inject({ url: '/api/kyc/6f1c2f0e-1111-4aaa-8bbb-123456789abc', headers: ben.auth });
    const malformed = await app.inject({ url: '/api/kyc/nope', headers: ben.auth });
    assert.equal(other.statusCode, 404);
    assert.equal(other.body, missing.body);
    assert.equal(other.body, malformed.body);
    assert.equal((await app.inject({ url: `/api/kyc/${id}`, headers: ana.auth })).statusCode, 200);
    assert.deepEqual((await app.inject({ url: '/api/kyc', headers: ben.auth })).json(), { submission: null }, "ben's latest is not ana's");
  });

  it('more information needed: note required, customer texted, may submit again; then approved and texted', async () => {
    const first = (await app.inject({ url: '/api/kyc', headers: ana.auth })).json<{ submission: Submission }>().submission;
    const queue = await app.inject({ url: '/api/staff/kyc?status=submitted', headers: staff.auth });
    assert.equal(queue.statusCode, 200);
    const listed = queue.json<{ submissions: Submission[] }>().submissions;
    assert.deepEqual(listed.map((s) => s.username).sort(), ['ana', 'dan']);
    const anas = listed.find((s) => s.id === first.id);
    assert.deepEqual(anas && [anas.userId, anas.status, anas.documentLast4], [ana.user.id, 'submitted', '9QZ7']);

    const noNote = await review(staff, first.id, { decision: 'more_info_needed' });
    assert.equal(noNote.statusCode, 400);
    assert.match(noNote.json<{ message: string }>().message, /^note: /);
    const badDecision = await review(staff, first.id, { decision: 'maybe' });
    assert.equal(badDecision.statusCode, 400);
    assert.match(badDecision.json<{ message: string }>().message, /^decision: one of approved, rejected, more_info_needed/);

    const asked = await review(staff, first.id, { decision: 'more_info_needed', note: 'The passport photo is blurred; please upload a sharper one.' });
    assert.equal(asked.statusCode, 200, asked.body);
    assert.equal(asked.json<{ submission: Submission }>().submission.status, 'more_info_needed');
    assert.deepEqual(await kycSms(ana, 2), [KYC_SMS, KYC_SMS]);
    const seen = await app.inject({ url: '/api/kyc', headers: ana.auth });
    assert.deepEqual(
      (({ status, reviewNote }) => ({ status, reviewNote }))(seen.json<{ submission: Submission }>().submission),
      { status: 'more_info_needed', reviewNote: 'The passport photo is blurred; please upload a sharper one.' },
    );
    const twice = await review(staff, first.id, { decision: 'approved' });
    assert.equal(twice.statusCode, 409);
    assert.match(twice.json<{ message: string }>().message, /is more info needed, not waiting for review/);

    const resubmitted = await submit(ana, { ...SUBMISSION, documentNumber: 'X123456780001' });
    assert.equal(resubmitted.statusCode, 201, resubmitted.body);
    const second = resubmitted.json<{ submission: Submission }>().submission;
    assert.equal(second.documentLast4, '0001');
    assert.equal((await app.inject({ url: '/api/kyc', headers: ana.auth })).json<{ submission: Submission }>().submission.id, second.id, 'the latest is the new one');
    assert.deepEqual(await kycSms(ana, 3), [KYC_SMS, KYC_SMS, KYC_SMS]);

    const approved = await review(staff, second.id, { decision: 'approved' });
    assert.equal(approved.statusCode, 200, approved.body);
    assert.equal(approved.json<{ submission: Submission }>().submission.status, 'approved');
    assert.deepEqual(await kycSms(ana, 4), Array(4).fill(KYC_SMS));
    assert.deepEqual(await kycEvents(ana), ['kyc.submitted', 'kyc.more_info_needed', 'kyc.submitted', 'kyc.approved']);
    const afterApproval = await submit(ana);
    assert.equal(afterApproval.statusCode, 409);
    assert.equal(afterApproval.json<{ message: string }>().message, 'Your identity is already verified; there is nothing to submit.');
    const sms = await t.ctx.db.select().from(notifications).where(and(eq(notifications.userId, ana.user.id), eq(notifications.type, 'kyc_status'), eq(notifications.channel, 'sms')));
    assert.equal(sms.length, 4, 'one notice per status change');
  });

  it('rejected: texted, and final', async () => {
    const res = await submit(cleo, { ...SUBMISSION, fullName: 'Cleo Park', documentType: 'driving_licence', documentNumber: 'D1234567' });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json<{ submission: Submission }>().submission.id;
    const rejected = await review(staff, id, { decision: 'rejected', note: 'The licence has expired.' });
    assert.equal(rejected.statusCode, 200, rejected.body);
    assert.deepEqual(await kycSms(cleo, 2), [KYC_SMS, KYC_SMS]);
    assert.deepEqual(await kycEvents(cleo), ['kyc.submitted', 'kyc.rejected']);
    const again = await submit(cleo);
    assert.equal(again.statusCode, 409);
    assert.match(again.json<{ message: string }>().message, /was rejected/);
    const rejectedList = await app.inject({ url: '/api/staff/kyc?status=rejected', headers: staff.auth });
    assert.deepEqual(rejectedList.json<{ submissions: Submission[] }>().submissions.map((s) => s.id), [id]);
    const badStatus = await app.inject({ url: '/api/staff/kyc?status=pending', headers: staff.auth });
    assert.equal(badStatus.statusCode, 400);
    assert.match(badStatus.json<{ message: string }>().message, /^status: one of submitted, approved, rejected, more_info_needed/);
  });

  it('staff cannot review their own check, and an unknown id is 404', async () => {
    const own = await submit(staff, { ...SUBMISSION, fullName: 'Rita Reviewer' });
    assert.equal(own.statusCode, 201, own.body);
    const res = await review(staff, own.json<{ submission: Submission }>().submission.id, { decision: 'approved' });
    assert.equal(res.statusCode, 403);
    assert.match(res.json<{ message: string }>().message, /cannot review your own identity check/);
    assert.equal((await review(staff, '6f1c2f0e-1111-4aaa-8bbb-123456789abc', { decision: 'approved' })).statusCode, 404);
    assert.equal((await review(staff, 'nope', { decision: 'approved' })).statusCode, 404);
  });
});
