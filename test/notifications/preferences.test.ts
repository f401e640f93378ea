// A customer's channels per type, quiet hours, digest and time zone, against the real database:
// defaults from the catalogue, and the floor critical security types never go under.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { AppError } from '../../src/errors.ts';
import { CATALOGUE } from '../../src/notifications/catalogue.ts';
import {
  getNotificationSettings, getPreferences, setNotificationSettings, setPreference,
} from '../../src/notifications/preferences.ts';
import { openNotificationsFixture, type NotificationsFixture } from './fixtures.ts';

function refusal(pattern: RegExp) {
  return (error: unknown) => error instanceof AppError && error.code === 'validation_failed' && pattern.test(error.userMessage);
}

describe('notification preferences', () => {
  let f: NotificationsFixture;
  let alice: string;
  let bob: string;
  before(async () => {
    f = await openNotificationsFixture();
    alice = await f.addUser('alice', { timeZone: 'Asia/Tokyo', language: 'es' });
    bob = await f.addUser('bob');
  });
  after(() => f.close());

  it('gives a new customer the catalogue defaults for every type', async () => {
    const prefs = await getPreferences(f.db, alice);
    assert.deepEqual(prefs.map((p) => p.type), CATALOGUE.map((s) => s.id));
    for (const p of prefs) {
      const spec = CATALOGUE.find((s) => s.id === p.type)!;
      assert.equal(p.source, 'default');
      assert.deepEqual({ sms: p.sms, email: p.email }, spec.defaultChannels, p.type);
    }
  });

  it('records a choice for one type and leaves the others on their defaults', async () => {
    const set = await setPreference(f.db, alice, 'transaction', { sms: false, email: true });
    assert.deepEqual(set, { type: 'transaction', sms: false, email: true, source: 'customer', floor: 'none' });
    await setPreference(f.db, alice, 'card_expiring', { sms: false, email: false });
    await setPreference(f.db, alice, 'card_expiring', { sms: true, email: false });
    const prefs = await getPreferences(f.db, alice);
    assert.deepEqual(prefs.find((p) => p.type === 'transaction'), set);
    assert.deepEqual(prefs.find((p) => p.type === 'card_expiring'), { type: 'card_expiring', sms: true, email: false, source: 'customer', floor: 'none' });
    assert.equal(prefs.find((p) => p.type === 'low_balance')?.source, 'default');
    assert.equal((await getPreferences(f.db, bob)).find((p) => p.type === 'transaction')?.source, 'default', 'one customer\'s choice is theirs only');
  });

  it('lets a customer switch off a non-critical type entirely', async () => {
    const off = await setPreference(f.db, bob, 'welcome', { sms: false, email: false });
    assert.equal(off.sms || off.email, false);
  });

  it('never lets SMS be switched off for a one-time code, and explains why', async () => {
    for (const type of ['two_factor_code', 'phone_verification_code', 'transfer_confirmation_code']) {
      await assert.rejects(setPreference(f.db, alice, type, { sms: false, email: false }), refusal(/cannot be switched off.*SMS stays on/));
    }
  });

  it('never sends a code by email as well', async () => {
    await assert.rejects(setPreference(f.db, alice, 'two_factor_code', { sms: true, email: true }), refusal(/SMS only.*never also by email/));
    const kept = await setPreference(f.db, alice, 'two_factor_code', { sms: true, email: false });
    assert.equal(kept.floor, 'sms');
  });

  it('lets critical alerts move to one channel but never to none', async () => {
    for (const type of ['suspicious_activity', 'new_device_login', 'account_lockout']) {
      await assert.rejects(setPreference(f.db, alice, type, { sms: false, email: false }), refusal(/cannot be switched off entirely: keep SMS or email on/));
    }
    assert.deepEqual(await setPreference(f.db, alice, 'account_lockout', { sms: false, email: true }),
      { type: 'account_lockout', sms: false, email: true, source: 'customer', floor: 'one_channel' });
    assert.equal((await setPreference(f.db, alice, 'new_device_login', { sms: true, email: false })).sms, true);
  });

  it('refuses an unknown type and an unknown customer', async () => {
    await assert.rejects(setPreference(f.db, alice, 'marketing', { sms: true, email: false }), refusal(/Unknown notification type "marketing"/));
    await assert.rejects(setPreference(f.db, randomUUID(), 'transaction', { sms: true, email: false }), (e: unknown) => e instanceof AppError && e.code === 'not_found');
  });
});

describe('notification settings', () => {
  let f: NotificationsFixture;
  let alice: string;
  let bob: string;
  before(async () => {
    f = await openNotificationsFixture();
    alice = await f.addUser('alice', { timeZone: 'Asia/Tokyo' });
    bob = await f.addUser('bob');
  });
  after(() => f.close());

  it('defaults to 22:00-07:00 in the profile\'s zone, no digest', async () => {
    assert.deepEqual(await getNotificationSettings(f.db, alice), {
      quietHours: { startMinute: 1320, endMinute: 420 }, digestTransactions: false, timeZone: 'Asia/Tokyo', timeZoneSource: 'profile',
    });
    const noProfile = await getNotificationSettings(f.db, bob);
    assert.equal(noProfile.timeZone, 'America/New_York');
    assert.equal(noProfile.timeZoneSource, 'default');
  });

  it('changes only what is given, and goes back to the profile\'s zone on null', async () => {
    await setNotificationSettings(f.db, alice, { digestTransactions: true });
    let settings = await setNotificationSettings(f.db, alice, { quietHours: { startMinute: 23 * 60, endMinute: 6 * 60 }, timeZone: 'Europe/Madrid' });
    assert.deepEqual(settings, {
      quietHours: { startMinute: 1380, endMinute: 360 }, digestTransactions: true, timeZone: 'Europe/Madrid', timeZoneSource: 'override',
    });
    settings = await setNotificationSettings(f.db, alice, { timeZone: null });
    assert.equal(settings.timeZone, 'Asia/Tokyo');
    assert.equal(settings.digestTransactions, true);
  });

  it('refuses quiet hours outside the day and unknown zones', async () => {
    await assert.rejects(setNotificationSettings(f.db, bob, { quietHours: { startMinute: 1440, endMinute: 420 } }), refusal(/between 00:00 and 23:59/));
    await assert.rejects(setNotificationSettings(f.db, bob, { timeZone: 'Atlantis/Capital' }), refusal(/Unknown time zone/));
    await assert.rejects(getNotificationSettings(f.db, randomUUID()), (e: unknown) => e instanceof AppError && e.code === 'not_found');
  });
});
