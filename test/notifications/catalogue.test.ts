// The catalogue answers every question the issue asks of a notification type, for every type.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/errors.ts';
import { QUEUES } from '../../src/jobs/registry.ts';
import { CATALOGUE, NOTIFICATION_TYPE_IDS, isNotificationType, notificationType } from '../../src/notifications/catalogue.ts';

const ISSUE_TYPES = [
  'two_factor_code', 'phone_verification_code', 'transfer_confirmation_code', 'suspicious_activity', 'new_device_login',
  'account_lockout', 'transaction', 'low_balance', 'large_transaction', 'transfer_sent', 'transfer_received', 'welcome',
  'password_changed', 'phone_changed', 'two_factor_changed', 'card_created', 'card_blocked', 'card_expiring', 'kyc_status', 'test_message',
  // Issue 14: a change of the customer's notification preferences, told to them once.
  'preferences_changed',
  // Issue 13: texts no longer reach the number; the customer is told by email how to fix it.
  'phone_unreachable',
];
const CODE_TYPES = ['two_factor_code', 'phone_verification_code', 'transfer_confirmation_code'];
const CRITICAL_ALERTS = ['suspicious_activity', 'new_device_login', 'account_lockout'];

describe('notification catalogue', () => {
  // Named in the issue, plus two_factor_changed: an authenticator or backup codes added (issue 5's TOTP).
  it('lists every type named in the issue, once, and nothing else', () => {
    assert.deepEqual([...NOTIFICATION_TYPE_IDS].sort(), [...ISSUE_TYPES].sort());
    assert.equal(new Set(CATALOGUE.map((s) => s.id)).size, CATALOGUE.length);
  });

  it('makes codes, lockout, suspicious activity and new-device login critical, and only those', () => {
    const critical = CATALOGUE.filter((s) => s.critical).map((s) => s.id).sort();
    assert.deepEqual(critical, [...CODE_TYPES, ...CRITICAL_ALERTS].sort());
    for (const spec of CATALOGUE.filter((s) => s.critical)) {
      assert.equal(spec.category, 'security', spec.id);
      assert.equal(spec.lane, 'sms.critical', spec.id);
      assert.equal(spec.mayWaitForQuietHours, false, spec.id);
      assert.equal(spec.digestible, false, spec.id);
    }
  });

  it('keeps SMS on for code types and at least one channel for the other critical alerts', () => {
    for (const id of CODE_TYPES) {
      const spec = notificationType(id);
      assert.equal(spec.floor, 'sms');
      assert.equal(spec.carriesCode, true);
      assert.deepEqual(spec.channels, ['sms'], 'codes never go by email');
      assert.ok(spec.variables.some((v) => v.name === 'code' && v.kind === 'code'));
    }
    for (const id of CRITICAL_ALERTS) assert.equal(notificationType(id).floor, 'one_channel');
    // Email is the only way to tell a customer their phone cannot receive texts: it cannot be switched off.
    const unreachable = notificationType('phone_unreachable');
    assert.deepEqual([unreachable.channels, unreachable.floor], [['email'], 'one_channel']);
    for (const spec of CATALOGUE.filter((s) => !s.critical && s.id !== 'phone_unreachable')) assert.equal(spec.floor, 'none', spec.id);
  });

  it('gives every type a consistent, complete description', () => {
    for (const spec of CATALOGUE) {
      assert.ok(spec.title, spec.id);
      assert.ok(['security', 'transaction', 'account'].includes(spec.category), spec.id);
      assert.ok(spec.lane in QUEUES, `${spec.id} lane ${spec.lane} is a queue of the registry`);
      assert.ok(spec.defaultChannels.sms || spec.defaultChannels.email, `${spec.id} goes somewhere by default`);
      if (spec.defaultChannels.email) assert.ok(spec.channels.includes('email'), spec.id);
      assert.equal(spec.carriesCode, CODE_TYPES.includes(spec.id), spec.id);
      for (const variable of spec.variables) {
        assert.match(variable.name, /^[a-z][a-z0-9_]*$/, `${spec.id}.${variable.name}`);
        assert.ok(variable.description, `${spec.id}.${variable.name}`);
        assert.notEqual(variable.example, undefined, `${spec.id}.${variable.name}`);
      }
    }
  });

  it('holds only transaction alerts for the digest, and lets only non-urgent types wait', () => {
    const digestible = CATALOGUE.filter((s) => s.digestible);
    assert.ok(digestible.length > 0);
    for (const spec of digestible) {
      assert.equal(spec.category, 'transaction', spec.id);
      assert.equal(spec.mayWaitForQuietHours, true, `${spec.id}: a digest is sent once a day, so it must be able to wait`);
    }
    for (const id of ['large_transaction', 'transfer_sent', 'password_changed', 'phone_changed', 'two_factor_changed', 'test_message']) {
      assert.equal(notificationType(id).mayWaitForQuietHours, false, id);
    }
  });

  it('refuses an unknown type, listing the known ones', () => {
    assert.equal(isNotificationType('transaction'), true);
    assert.equal(isNotificationType('security_alert'), false);
    assert.throws(() => notificationType('security_alert'), (error: unknown) =>
      error instanceof AppError && error.code === 'validation_failed' && /security_alert/.test(error.userMessage) && /two_factor_code/.test(error.userMessage));
  });
});
