// Users and their phone numbers against the real database: numbers are stored normalised or
// refused with "Invalid Phone Number", passwords only as hashes, and the demo users of a new
// embedded database are created once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { users } from '../../src/db/schema.ts';
import { AppError } from '../../src/errors.ts';
import { createDemoUsers, DEMO_PHONE_NUMBER, DEMO_STAFF_PHONE_NUMBER } from '../../src/users/demo.ts';
import { verifyPassword } from '../../src/users/passwords.ts';
import { setPhoneNumber as setPhone } from '../../src/users/phone-number.ts';
import { createUser, findUserByUsername, requireUserByUsername } from '../../src/users/users.ts';
import { createTestContext, type TestContext } from '../helpers/context.ts';

let t: TestContext;

before(async () => {
  t = await createTestContext();
});

after(async () => {
  await t.close();
});

function appError(code: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.code, code);
    assert.match(error.userMessage, pattern);
    return true;
  };
}

describe('demo users', () => {
  it('creates testuser (with a phone) and a staff admin on an empty database, once', async () => {
    const created = await createDemoUsers(t.ctx);
    assert.deepEqual(created.map((u) => [u.username, u.isStaff, u.phoneNumber]), [['testuser', false, DEMO_PHONE_NUMBER], ['admin', true, DEMO_STAFF_PHONE_NUMBER]]);
    for (const demo of created) {
      assert.ok(demo.password.length >= 16);
      const [row] = await t.ctx.db.select().from(users).where(eq(users.username, demo.username));
      assert.ok(row && !row.passwordHash.includes(demo.password));
      assert.equal(await verifyPassword(demo.password, row.passwordHash), true);
    }
    assert.deepEqual(await createDemoUsers(t.ctx), [], 'a database with users gets no demo users');
  });
});

describe('createUser', () => {
  it('normalises the phone number to E.164', async () => {
    const user = await createUser(t.ctx, { username: 'alice', password: 'correct horse battery', phone: '(415) 555-2672', email: 'alice@example.com' });
    assert.equal(user.phoneNumber, '+14155552672');
    assert.equal((await findUserByUsername(t.ctx.db, 'alice'))?.phoneNumber, '+14155552672');
  });

  it('refuses an invalid phone number, a weak password, a taken username, a bad username', async () => {
    await assert.rejects(createUser(t.ctx, { username: 'bob', password: 'correct horse battery', phone: '12345' }), appError('invalid_phone_number', /^Invalid Phone Number: "12345" is too short\. Use E\.164/));
    await assert.rejects(createUser(t.ctx, { username: 'bob', password: 'short' }), appError('weak_password', /at least 12/));
    await assert.rejects(createUser(t.ctx, { username: 'alice', password: 'correct horse battery' }), appError('conflict', /already exists/));
    await assert.rejects(createUser(t.ctx, { username: 'bob smith', password: 'correct horse battery' }), appError('validation_failed', /Invalid username/));
    assert.equal(await findUserByUsername(t.ctx.db, 'bob'), undefined);
  });

  it('refuses Twilio magic numbers on a live account but accepts them in simulator mode', async () => {
    const live = { ...t.ctx, config: { ...t.config, smsProvider: 'twilio' as const, twilio: { ...t.config.twilio, phoneNumber: '+14155550100' } } };
    await assert.rejects(createUser(live, { username: 'magic', password: 'correct horse battery', phone: '+15005550009' }), appError('invalid_phone_number', /Twilio test number/));
    const user = await createUser(t.ctx, { username: 'magic', password: 'correct horse battery', phone: '+15005550009' });
    assert.equal(user.phoneNumber, '+15005550009');
  });
});

const setPhoneNumber = (ctx: typeof t.ctx, username: string, phone: string | null) => setPhone(ctx, { username }, phone, { kind: 'cli', name: 'test' });

describe('setPhoneNumber', () => {
  it('sets, normalises and removes a number; a changed number is unverified', async () => {
    const user = await setPhoneNumber(t.ctx, 'admin', '+1 415-555-2673');
    assert.deepEqual([user.phoneNumber, user.phoneVerifiedAt], ['+14155552673', null]);
    assert.equal((await setPhoneNumber(t.ctx, 'admin', null)).phoneNumber, null);
    assert.equal((await requireUserByUsername(t.ctx.db, 'admin')).phoneNumber, null);
  });

  it('refuses an invalid number, a country not served, and an unknown user', async () => {
    await assert.rejects(setPhoneNumber(t.ctx, 'alice', 'call me'), appError('invalid_phone_number', /Invalid Phone Number/));
    await assert.rejects(setPhoneNumber(t.ctx, 'alice', '+44 7700 900123'), appError('invalid_phone_number', /not a valid number/));
    await assert.rejects(setPhoneNumber(t.ctx, 'alice', '+33 6 12 34 56 78'), appError('country_not_allowed', /France \(FR\).*SMS_ALLOWED_COUNTRIES/));
    await assert.rejects(setPhoneNumber(t.ctx, 'nobody', '+14155552671'), appError('not_found', /Unknown user "nobody".*createuser/));
    assert.equal((await findUserByUsername(t.ctx.db, 'alice'))?.phoneNumber, '+14155552672', 'unchanged');
  });
});
