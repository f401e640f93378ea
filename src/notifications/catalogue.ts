// The catalogue of every notification the bank sends: what it is about, how urgent it is, which
// channels it uses by default and which a customer may never switch off, and the variables its
// templates may use. Policy (quiet hours, digest, preferences) and templates read it; nothing else
// decides these things.
import { AppError } from '../errors.ts';
import type { SmsLane } from '../jobs/registry.ts';

/** The bank's name, first in every SMS so a customer recognises it and a spoof stands out. */
export const BANK_NAME = 'DominionTrust';

export type NotificationCategory = 'security' | 'transaction' | 'account';
export type Channel = 'sms' | 'email';
export const CHANNELS: readonly Channel[] = ['sms', 'email'];

/**
 * What a customer can never switch off:
 * - 'sms': one-time codes; the code must reach the phone it proves, so SMS stays on.
 * - 'one_channel': other critical security alerts; SMS, email or both, but never neither.
 * - 'none': everything else may be switched off entirely.
 */
export type ChannelFloor = 'sms' | 'one_channel' | 'none';

/** How a variable's value is shown: money in the customer's locale, numbers as last 4 only, ... */
export type VariableKind = 'text' | 'money' | 'last4' | 'date' | 'datetime' | 'month' | 'code';

export interface Money {
  /** Integer minor units (cents; yen for JPY); negative for money leaving the account. */
  minorUnits: bigint | number | string;
  /** ISO 4217, e.g. USD. */
  currency: string;
}

export type TemplateValue = string | number | bigint | Date | Money;

export interface TemplateVariable {
  name: string;
  kind: VariableKind;
  description: string;
  /** Used for previews, segment counts on save, and the tests of every default template. */
  example: TemplateValue;
}

export interface NotificationTypeSpec {
  id: NotificationTypeId;
  /** A short English name for staff screens and the CLI. */
  title: string;
  category: NotificationCategory;
  /** Critical security types: sent at once, on the critical lane, and never switched off entirely. */
  critical: boolean;
  /** Channels the type can use at all; codes are SMS only (a second copy by email is a second target). */
  channels: readonly Channel[];
  defaultChannels: { sms: boolean; email: boolean };
  floor: ChannelFloor;
  /** False for anything a customer must see at once (codes, fraud signals): it ignores quiet hours. */
  mayWaitForQuietHours: boolean;
  /** May be held for the customer's daily summary SMS when they chose one. */
  digestible: boolean;
  /** The queue its SMS goes on: the priority. */
  lane: SmsLane;
  /** Its SMS body carries CODE_PLACEHOLDER, which the worker fills with a freshly minted code. */
  carriesCode: boolean;
  variables: readonly TemplateVariable[];
}

export const NOTIFICATION_TYPE_IDS = [
  'two_factor_code', 'phone_verification_code', 'transfer_confirmation_code',
  'suspicious_activity', 'new_device_login', 'account_lockout',
  'transaction', 'low_balance', 'large_transaction', 'transfer_sent', 'transfer_received',
  'welcome', 'password_changed', 'phone_changed', 'two_factor_changed',
  'card_created', 'card_blocked', 'card_expiring', 'kyc_status', 'test_message',
  'preferences_changed', 'phone_unreachable',
] as const;

export type NotificationTypeId = (typeof NOTIFICATION_TYPE_IDS)[number];

const v = (name: string, kind: VariableKind, description: string, example: TemplateValue): TemplateVariable =>
  ({ name, kind, description, example });

const CODE = v('code', 'code', 'the one-time code; left as {code} for the worker, which mints it at send time', '123456');
const MINUTES = v('minutes', 'text', 'minutes until the code expires', '5');
const AMOUNT = v('amount', 'money', 'the amount, negative when money leaves the account', { minorUnits: -4520, currency: 'USD' });
const ABS_AMOUNT = v('amount', 'money', 'the amount', { minorUnits: 125000, currency: 'USD' });
const BALANCE = v('balance', 'money', 'the balance after it', { minorUnits: 123456, currency: 'USD' });
const MERCHANT = v('merchant', 'text', 'merchant or description as on the statement', 'Corner Cafe');
const ACCOUNT = v('account_last4', 'last4', 'the account; only its last 4 digits are ever shown', '4821');
const CARD = v('card_last4', 'last4', 'the card; only its last 4 digits are ever shown', '4242');
const WHEN = v('time', 'datetime', "when it happened, shown in the customer's time zone", new Date('2026-11-25T15:04:00Z'));

const SECURITY = { category: 'security', critical: true, mayWaitForQuietHours: false, digestible: false, lane: 'sms.critical' } as const;
const CODE_TYPE = { ...SECURITY, channels: ['sms'], defaultChannels: { sms: true, email: false }, floor: 'sms', carriesCode: true } as const;
const ALERT = { ...SECURITY, channels: CHANNELS, defaultChannels: { sms: true, email: true }, floor: 'one_channel', carriesCode: false } as const;
const OPTIONAL = { critical: false, channels: CHANNELS, floor: 'none', carriesCode: false } as const;

type Spec = Omit<NotificationTypeSpec, 'id'>;

const SPECS: Record<NotificationTypeId, Spec> = {
  two_factor_code: { ...CODE_TYPE, title: 'Two-factor login code', variables: [CODE, MINUTES] },
  phone_verification_code: { ...CODE_TYPE, title: 'Phone verification code', variables: [CODE, MINUTES] },
  // PSD2 dynamic linking: the customer sees the amount and payee the code is bound to.
  transfer_confirmation_code: {
    ...CODE_TYPE, title: 'Transfer confirmation code',
    variables: [CODE, MINUTES, ABS_AMOUNT, v('payee', 'text', 'who receives the transfer', 'J. Smith')],
  },
  // Raised by the bank's rules (src/auth/suspicious.ts): what was noticed, in a short phrase.
  suspicious_activity: {
    ...ALERT, title: 'Suspicious activity',
    variables: [v('activity', 'text', 'what the bank noticed, a short phrase', 'a transfer of $2,500.00 soon after a password change'), WHEN],
  },
  new_device_login: {
    ...ALERT, title: 'New-device login',
    variables: [v('device', 'text', 'the device, as its browser or app names it', 'iPhone'), v('location', 'text', 'approximate place, from the IP address', 'Miami, FL'), WHEN],
  },
  account_lockout: { ...ALERT, title: 'Account lockout', variables: [] },
  transaction: {
    ...OPTIONAL, title: 'Transaction', category: 'transaction', defaultChannels: { sms: true, email: false },
    mayWaitForQuietHours: true, digestible: true, lane: 'sms.standard', variables: [AMOUNT, MERCHANT, ACCOUNT, BALANCE],
  },
  low_balance: {
    ...OPTIONAL, title: 'Low balance', category: 'transaction', defaultChannels: { sms: true, email: false },
    mayWaitForQuietHours: true, digestible: false, lane: 'sms.standard',
    variables: [BALANCE, ACCOUNT, v('threshold', 'money', 'the level the customer chose', { minorUnits: 10000, currency: 'USD' })],
  },
  // A large debit is the typical sign of fraud: it goes at once, even at night.
  large_transaction: {
    ...OPTIONAL, title: 'Large transaction', category: 'transaction', defaultChannels: { sms: true, email: true },
    mayWaitForQuietHours: false, digestible: false, lane: 'sms.standard', variables: [AMOUNT, MERCHANT, ACCOUNT],
  },
  // Money leaving: the customer usually just made it, and if not they must know now.
  transfer_sent: {
    ...OPTIONAL, title: 'Transfer sent', category: 'transaction', defaultChannels: { sms: true, email: false },
    mayWaitForQuietHours: false, digestible: false, lane: 'sms.standard',
    variables: [ABS_AMOUNT, v('payee', 'text', 'who received it', 'J. Smith'), ACCOUNT],
  },
  transfer_received: {
    ...OPTIONAL, title: 'Transfer received', category: 'transaction', defaultChannels: { sms: true, email: false },
    mayWaitForQuietHours: true, digestible: true, lane: 'sms.standard',
    variables: [ABS_AMOUNT, v('payer', 'text', 'who sent it', 'Acme Corp'), ACCOUNT],
  },
  welcome: {
    ...OPTIONAL, title: 'Welcome / activation', category: 'account', defaultChannels: { sms: true, email: true },
    mayWaitForQuietHours: true, digestible: false, lane: 'sms.standard', variables: [v('first_name', 'text', "the customer's first name", 'Ana')],
  },
  // Account-takeover signals: urgent, though the customer may choose to get them by email only.
  password_changed: {
    ...OPTIONAL, title: 'Password changed', category: 'security', defaultChannels: { sms: true, email: true },
    mayWaitForQuietHours: false, digestible: false, lane: 'sms.critical', variables: [WHEN],
  },
  phone_changed: {
    ...OPTIONAL, title: 'Phone number changed', category: 'security', defaultChannels: { sms: true, email: true },
    mayWaitForQuietHours: false, digestible: false, lane: 'sms.critical',
    variables: [v('phone_last4', 'last4', 'the new number; only its last 4 digits are shown', '2671'), WHEN],
  },
  // A second factor added is how a stolen session would make itself permanent: told at once.
  two_factor_changed: {
    ...OPTIONAL, title: 'Two-step sign-in changed', category: 'security', defaultChannels: { sms: true, email: true },
    mayWaitForQuietHours: false, digestible: false, lane: 'sms.critical', variables: [WHEN],
  },
  card_created: {
    ...OPTIONAL, title: 'Card created', category: 'account', defaultChannels: { sms: true, email: true },
    mayWaitForQuietHours: true, digestible: false, lane: 'sms.standard', variables: [CARD],
  },
  card_blocked: {
    ...OPTIONAL, title: 'Card blocked', category: 'account', defaultChannels: { sms: true, email: true },
    mayWaitForQuietHours: false, digestible: false, lane: 'sms.standard', variables: [CARD],
  },
  card_expiring: {
    ...OPTIONAL, title: 'Card expiring', category: 'account', defaultChannels: { sms: true, email: true },
    mayWaitForQuietHours: true, digestible: false, lane: 'sms.bulk',
    variables: [CARD, v('expires', 'month', 'month the card expires', new Date('2026-12-31T12:00:00Z'))],
  },
  // No status in the SMS: identity-check details stay in the app, not on a lock screen.
  kyc_status: {
    ...OPTIONAL, title: 'KYC status update', category: 'account', defaultChannels: { sms: true, email: true },
    mayWaitForQuietHours: true, digestible: false, lane: 'sms.standard', variables: [],
  },
  // Sent on an operator's request, who is waiting for it.
  test_message: {
    ...OPTIONAL, title: 'Test message', category: 'account', defaultChannels: { sms: true, email: false },
    mayWaitForQuietHours: false, digestible: false, lane: 'sms.standard', variables: [],
  },
  // A stolen session would quietly switch alerts off: the customer hears of any change at once.
  preferences_changed: {
    ...OPTIONAL, title: 'Notification settings changed', category: 'security', defaultChannels: { sms: true, email: true },
    mayWaitForQuietHours: false, digestible: false, lane: 'sms.critical', variables: [WHEN],
  },
  // Texts stopped reaching the number (SMS_UNREACHABLE_AFTER permanent failures in a row): only
  // email can say so, and it cannot be switched off, since it is how the customer learns to fix it.
  phone_unreachable: {
    title: 'Phone cannot receive texts', category: 'account', critical: false, channels: ['email'],
    defaultChannels: { sms: false, email: true }, floor: 'one_channel', carriesCode: false,
    mayWaitForQuietHours: false, digestible: false, lane: 'sms.standard',
    variables: [v('phone_last4', 'last4', 'the number texts no longer reach; only its last 4 digits are shown', '2671'), WHEN],
  },
};

export const CATALOGUE: readonly NotificationTypeSpec[] = NOTIFICATION_TYPE_IDS.map((id) => ({ id, ...SPECS[id] }));

const BY_ID = new Map<string, NotificationTypeSpec>(CATALOGUE.map((spec) => [spec.id, spec]));

export function isNotificationType(id: string): id is NotificationTypeId {
  return BY_ID.has(id);
}

/** The spec of a type; throws AppError 'validation_failed' listing the known types. */
export function notificationType(id: string): NotificationTypeSpec {
  const spec = BY_ID.get(id);
  if (!spec) throw new AppError('validation_failed', `Unknown notification type "${id}". Known types: ${NOTIFICATION_TYPE_IDS.join(', ')}.`);
  return spec;
}
