// The one Drizzle schema, for embedded PGlite and PostgreSQL alike.
// Migrations in ./drizzle are generated from it (`npm run db:generate`) and only ever added to.
import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, check, date, index, integer, jsonb, numeric, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const users = pgTable('users', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  username: text('username').notNull().unique(),
  email: text('email').unique(),
  /** argon2id hash in PHC form (scrypt for older rows, replaced at sign-in); never the password. */
  passwordHash: text('password_hash').notNull(),
  isStaff: boolean('is_staff').notNull().default(false),
  isActive: boolean('is_active').notNull().default(true),
  /** Last password change, for the 'password change then large transfer' suspicious-activity rule. */
  passwordChangedAt: timestamp('password_changed_at', { withTimezone: true }),
  createdAt: createdAt(),
});

export const userProfiles = pgTable('user_profiles', {
  userId: uuid('user_id').primaryKey().references(() => users.id, { onDelete: 'cascade' }),
  /** E.164, or null when the customer has not given one. */
  phoneNumber: text('phone_number'),
  phoneVerifiedAt: timestamp('phone_verified_at', { withTimezone: true }),
  language: text('language').notNull().default('en'),
  timeZone: text('time_zone').notNull().default('America/New_York'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  /** When the number last changed (any path): large transfers and new payees wait a cooling-off period after it. */
  phoneChangedAt: timestamp('phone_changed_at', { withTimezone: true }),
});

/** A one-time code sent by SMS. Only its hash is stored. */
export const otpChallenges = pgTable('otp_challenges', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  purpose: text('purpose').notNull(),
  /** Null until the worker that sends the code mints it: the code itself is never stored. */
  codeHash: text('code_hash'),
  destination: text('destination').notNull(),
  attempts: integer('attempts').notNull().default(0),
  maxAttempts: integer('max_attempts').notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  consumedAt: timestamp('consumed_at', { withTimezone: true }),
  createdAt: createdAt(),
}, (t) => [index('otp_challenges_user_idx').on(t.userId, t.createdAt)]);

/** The message log: one row per SMS the system sends, whatever sent it. */
export const smsMessages = pgTable('sms_messages', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  /** Notification type, a catalogue id, e.g. two_factor_code, new_device_login, test_message. */
  type: text('type').notNull(),
  userId: uuid('user_id').references(() => users.id, { onDelete: 'set null' }),
  toNumber: text('to_number').notNull(),
  fromNumber: text('from_number'),
  /** The body with any one-time code replaced by ******. */
  bodyRedacted: text('body_redacted').notNull(),
  encoding: text('encoding').notNull(),
  segments: integer('segments').notNull(),
  /** Estimated USD price (segments x price per segment); never ledger money. */
  priceEstimate: numeric('price_estimate', { precision: 12, scale: 5 }).notNull(),
  /** USD price Twilio reported, once known. */
  price: numeric('price', { precision: 12, scale: 5 }),
  priceUnit: text('price_unit'),
  /** pending -> queued/sending/sent -> delivered | undelivered | failed; 'expired' when not sent in time. */
  status: text('status').notNull().default('pending'),
  twilioSid: text('twilio_sid').unique(),
  errorCode: integer('error_code'),
  errorMessage: text('error_message'),
  attempts: integer('attempts').notNull().default(0),
  /** Set for code messages: the worker mints the code for this challenge at send time. */
  otpChallengeId: uuid('otp_challenge_id').references(() => otpChallenges.id, { onDelete: 'set null' }),
  /** A code message is not sent after this instant; null for messages that may wait. */
  sendBefore: timestamp('send_before', { withTimezone: true }),
  createdAt: createdAt(),
  sentAt: timestamp('sent_at', { withTimezone: true }),
  deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  /**
   * When the status sweep next asks Twilio how this sent message is doing (src/sms/status-sweep.ts);
   * null once its status is final and its charge known, or its checks are used up. Set in the
   * transaction that records the send, so a check can never be lost.
   */
  statusCheckAt: timestamp('status_check_at', { withTimezone: true }),
  /** Status checks made so far; the next waits 2^n s (at most 60 s). */
  statusChecks: integer('status_checks').notNull().default(0),
}, (t) => [
  index('sms_messages_user_idx').on(t.userId, t.createdAt),
  // The status sweep's due messages, soonest first; only messages still followed are in it.
  index('sms_messages_status_check_idx').on(t.statusCheckAt).where(sql`${t.statusCheckAt} is not null`),
  index('sms_messages_created_idx').on(t.createdAt),
  // The staff message log's keyset pages: (created_at, id) descending.
  index('sms_messages_log_idx').on(t.createdAt, t.id),
]);

/**
 * Per-sender send slots, shared by every worker: the next instant a message may leave through this
 * sender number without exceeding its throughput (TWILIO_SENDER_MPS).
 */
export const senderThrottle = pgTable('sender_throttle', {
  sender: text('sender').primaryKey(),
  nextSlotAt: timestamp('next_slot_at', { withTimezone: true, precision: 6 }).notNull(),
});

/**
 * Staff edits of notification templates, one row per saved version; the latest version of a
 * (type, language, channel) is the one sent, and the repository default when there is none.
 */
export const notificationTemplates = pgTable('notification_templates', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  /** A type of the catalogue (src/notifications/catalogue.ts), e.g. transaction. */
  type: text('type').notNull(),
  /** Primary language subtag, e.g. en, es. */
  language: text('language').notNull(),
  channel: text('channel').notNull(),
  /** 1, 2, ... per (type, language, channel); the repository default counts as version 0. */
  version: integer('version').notNull(),
  /** Email only. */
  subject: text('subject'),
  body: text('body').notNull(),
  /** The staff member who saved it. */
  updatedBy: uuid('updated_by').references(() => users.id, { onDelete: 'set null' }),
  createdAt: createdAt(),
}, (t) => [
  uniqueIndex('notification_templates_version_uq').on(t.type, t.language, t.channel, t.version),
  check('notification_templates_channel_ck', sql`${t.channel} in ('sms', 'email')`),
  check('notification_templates_version_ck', sql`${t.version} > 0`),
]);

/** A customer's channels for one notification type; a type without a row uses the catalogue default. */
export const notificationPreferences = pgTable('notification_preferences', {
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  type: text('type').notNull(),
  sms: boolean('sms').notNull(),
  email: boolean('email').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.userId, t.type] })]);

/** A customer's quiet hours, daily digest choice and time zone; no row means the defaults. */
export const notificationSettings = pgTable('notification_settings', {
  userId: uuid('user_id').primaryKey().references(() => users.id, { onDelete: 'cascade' }),
  /** Minutes after local midnight; start == end means no quiet hours. */
  quietStartMinute: integer('quiet_start_minute').notNull().default(22 * 60),
  quietEndMinute: integer('quiet_end_minute').notNull().default(7 * 60),
  /** Transaction alerts as one summary SMS a day instead of one each. */
  digestTransactions: boolean('digest_transactions').notNull().default(false),
  /** IANA zone for notifications only; null means the profile's time zone. */
  timeZone: text('time_zone'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  /** How one-time codes reach the customer: 'sms', or 'voice' (a call reads the code: "call me instead"). */
  codeDelivery: text('code_delivery').notNull().default('sms'),
}, (t) => [
  check('notification_settings_quiet_ck', sql`${t.quietStartMinute} between 0 and 1439 and ${t.quietEndMinute} between 0 and 1439`),
  check('notification_settings_code_delivery_ck', sql`${t.codeDelivery} in ('sms', 'voice')`),
]);

/** Transaction alerts held for a customer's daily summary SMS. */
export const notificationDigestItems = pgTable('notification_digest_items', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  type: text('type').notNull(),
  /** The alert's variables; money as { minorUnits: string, currency }. */
  payload: jsonb('payload').notNull(),
  /** The customer's local date the item belongs to. */
  digestDate: date('digest_date', { mode: 'string' }).notNull(),
  createdAt: createdAt(),
  sentAt: timestamp('sent_at', { withTimezone: true }),
}, (t) => [
  index('notification_digest_items_pending_idx').on(t.userId, t.digestDate).where(sql`${t.sentAt} is null`),
]);

/**
 * One row per notification and channel: the outbox the bank change writes in its own transaction,
 * and the record of what the policy step decided (sent, held until when, skipped or moved, and why).
 * (event_key, user, type, channel) is the idempotency key: an event notifies a customer once per
 * type and channel however often it is replayed (one transfer notifies its payer and its payee).
 */
export const notifications = pgTable('notifications', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  /** A type of the catalogue (src/notifications/catalogue.ts). */
  type: text('type').notNull(),
  /** The event this notifies of, e.g. transfer:<id>; a random uuid when the caller has none. */
  eventKey: text('event_key').notNull(),
  channel: text('channel').notNull(),
  /** The template values (money as minor units in a string, dates as ISO text); never a code. */
  values: jsonb('values').notNull(),
  otpChallengeId: uuid('otp_challenge_id').references(() => otpChallenges.id, { onDelete: 'set null' }),
  /** Not sent after this instant (a code's expiry). */
  sendBefore: timestamp('send_before', { withTimezone: true }),
  /** pending -> queued | sent | digested | held (-> pending again when due) | skipped | failed. */
  status: text('status').notNull().default('pending'),
  /** While held: when the policy looks at it again. */
  holdUntil: timestamp('hold_until', { withTimezone: true }),
  /** Why it was held, skipped, moved or failed, e.g. quiet_hours, moved_to_email: user_hourly_limit. */
  reason: text('reason'),
  /** The message-log row once queued as SMS. */
  smsMessageId: uuid('sms_message_id').references(() => smsMessages.id, { onDelete: 'set null' }),
  /** Email: sends tried. */
  attempts: integer('attempts').notNull().default(0),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [
  uniqueIndex('notifications_event_uq').on(t.eventKey, t.userId, t.type, t.channel),
  index('notifications_user_idx').on(t.userId, t.createdAt),
  // The sweep's scan: notifications still open, by when they are due (src/notifications/sweep.ts).
  index('notifications_email_log_idx').on(t.createdAt, t.id).where(sql`${t.channel} = 'email'`),
  index('notifications_open_idx').on(sql`coalesce(${t.holdUntil}, ${t.updatedAt})`).where(sql`${t.status} in ('pending', 'held', 'sending')`),
  check('notifications_channel_ck', sql`${t.channel} in ('sms', 'email')`),
  check('notifications_status_ck', sql`${t.status} in ('pending', 'held', 'sending', 'queued', 'sent', 'digested', 'skipped', 'failed')`),
]);

/**
 * Counters of the SMS limits, one row per limit key and fixed window, shared by every worker:
 * a send counts itself with one atomic insert-or-increment that refuses to pass the limit.
 */
export const rateLimitCounters = pgTable('rate_limit_counters', {
  /** What is counted, e.g. sms:user:<id>:hour, sms:spend:day, code:number:+14155552671. */
  key: text('key').notNull(),
  windowStart: timestamp('window_start', { withTimezone: true }).notNull(),
  /** Messages, or for the spend cap hundred-thousandths of a US dollar. */
  amount: bigint('amount', { mode: 'number' }).notNull(),
}, (t) => [primaryKey({ columns: [t.key, t.windowStart] })]);

/**
 * What a permanent delivery failure taught us about a phone number: the customer opted out
 * (replied STOP, or blocked us) or the number cannot receive SMS. Notifications then go by email.
 */
export const phoneStatus = pgTable('phone_status', {
  phoneNumber: text('phone_number').primaryKey(),
  optedOutAt: timestamp('opted_out_at', { withTimezone: true }),
  unreachableAt: timestamp('unreachable_at', { withTimezone: true }),
  /** The Twilio error behind it, e.g. "21610 Attempt to send to unsubscribed recipient (Recipient Opted Out)". */
  reason: text('reason'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  /** Permanent failures in a row that say the number cannot take SMS; a delivery resets them. */
  permanentFailures: integer('permanent_failures').notNull().default(0),
  /** When the owner was emailed that the number is unreachable (once per marking). */
  unreachableNotifiedAt: timestamp('unreachable_notified_at', { withTimezone: true }),
});

/** One row per provider call of a message: when, and what came of it. */
export const smsDeliveryAttempts = pgTable('sms_delivery_attempts', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  smsMessageId: uuid('sms_message_id').notNull().references(() => smsMessages.id, { onDelete: 'cascade' }),
  /** 1 for the first call. */
  attempt: integer('attempt').notNull(),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
  finishedAt: timestamp('finished_at', { withTimezone: true }).notNull(),
  /** accepted by the provider, retry scheduled, or failed for good. */
  outcome: text('outcome').notNull(),
  twilioCode: integer('twilio_code'),
  /**
   * SmsErrorKind; 'internal' for a failure on our side; 'no_answer' when the request may have
   * reached Twilio unanswered (timeout, reset), so the next attempt looks for it there first.
   */
  errorKind: text('error_kind'),
  errorMessage: text('error_message'),
}, (t) => [
  index('sms_delivery_attempts_message_idx').on(t.smsMessageId, t.attempt),
  check('sms_delivery_attempts_outcome_ck', sql`${t.outcome} in ('accepted', 'retry', 'failed')`),
]);

/** Where a login may come from: a hash of the user agent and the app's device id, per user. */
export const devices = pgTable('devices', {
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  /** SHA-256 of user agent + device id, hex; never the raw values. */
  fingerprint: text('fingerprint').notNull(),
  /** What the new-device alert calls it, e.g. the browser or app name. */
  label: text('label').notNull(),
  firstSeen: timestamp('first_seen', { withTimezone: true }).notNull().defaultNow(),
  lastSeen: timestamp('last_seen', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.userId, t.fingerprint] })]);

/** A signed-in session. The token is given to the client once; only its SHA-256 is stored. */
export const sessions = pgTable('sessions', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  tokenHash: text('token_hash').notNull().unique(),
  deviceFingerprint: text('device_fingerprint').notNull(),
  createdAt: createdAt(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
  /** When a staff session was last used (at most a minute off): its idle timeout counts from here. */
  lastSeenAt: timestamp('last_seen_at', { withTimezone: true }),
}, (t) => [index('sessions_user_idx').on(t.userId, t.createdAt)]);

/**
 * Each code sent for a login after its password was checked: binds the code's challenge to that
 * login (login_id groups a login's first code and its resends) and the device it came from.
 */
export const loginChallenges = pgTable('login_challenges', {
  challengeId: uuid('challenge_id').primaryKey().references(() => otpChallenges.id, { onDelete: 'cascade' }),
  loginId: uuid('login_id').notNull(),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  /** E.164 the code went to: resends are limited per number as well as per user. */
  destination: text('destination').notNull(),
  isResend: boolean('is_resend').notNull(),
  deviceFingerprint: text('device_fingerprint').notNull(),
  deviceLabel: text('device_label').notNull(),
  ip: text('ip').notNull(),
  createdAt: createdAt(),
  /** Set when a resend replaced this code. */
  supersededAt: timestamp('superseded_at', { withTimezone: true }),
}, (t) => [
  index('login_challenges_user_idx').on(t.userId, t.createdAt),
  index('login_challenges_destination_idx').on(t.destination, t.createdAt),
  index('login_challenges_login_idx').on(t.loginId, t.createdAt),
]);

/** A wrong password or a wrong login code; enough of them in a window lock the account. */
export const loginFailures = pgTable('login_failures', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  kind: text('kind').notNull(),
  /** The device the failed attempt came from (SHA-256 fingerprint), when known. */
  deviceFingerprint: text('device_fingerprint'),
  /** Whether that device was new to the customer at the time. */
  newDevice: boolean('new_device').notNull().default(false),
  createdAt: createdAt(),
}, (t) => [
  index('login_failures_user_idx').on(t.userId, t.createdAt),
  check('login_failures_kind_ck', sql`${t.kind} in ('password', 'code')`),
]);

/** A lockout of online banking: no login until locked_until. */
export const loginLockouts = pgTable('login_lockouts', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  lockedUntil: timestamp('locked_until', { withTimezone: true }).notNull(),
  createdAt: createdAt(),
}, (t) => [index('login_lockouts_user_idx').on(t.userId, t.lockedUntil)]);

/**
 * A customer account, or the bank's cash account of a currency (the other side of deposits and
 * withdrawals; its balance is negative by what customers hold). Balances in integer minor units.
 */
export const accounts = pgTable('accounts', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  /** Null for the bank's own cash accounts. */
  userId: uuid('user_id').references(() => users.id, { onDelete: 'restrict' }),
  kind: text('kind').notNull().default('customer'),
  /** Ten digits; alerts show only the last four. */
  number: text('number').notNull().unique(),
  /** ISO 4217, e.g. USD. */
  currency: text('currency').notNull(),
  balanceMinor: bigint('balance_minor', { mode: 'number' }).notNull().default(0),
  /** Low-balance alert below this balance; null: no alert. */
  lowBalanceThresholdMinor: bigint('low_balance_threshold_minor', { mode: 'number' }),
  /** Set when the balance went below the threshold and the alert was raised; cleared when it rises to it again (once per crossing). */
  lowBalanceAlertedAt: timestamp('low_balance_alerted_at', { withTimezone: true }),
  /** Large-transaction alert for a movement of at least this amount; null: no alert. */
  largeTransactionThresholdMinor: bigint('large_transaction_threshold_minor', { mode: 'number' }),
  /** Transfers out of at least this amount wait for an SMS code bound to amount and payee (PSD2 dynamic linking). */
  confirmationThresholdMinor: bigint('confirmation_threshold_minor', { mode: 'number' }).notNull().default(100000),
  createdAt: createdAt(),
}, (t) => [
  index('accounts_user_idx').on(t.userId),
  uniqueIndex('accounts_cash_currency_uq').on(t.currency).where(sql`${t.kind} = 'cash'`),
  check('accounts_kind_ck', sql`${t.kind} in ('customer', 'cash') and (${t.kind} = 'cash') = (${t.userId} is null)`),
  check('accounts_balance_ck', sql`${t.kind} = 'cash' or ${t.balanceMinor} >= 0`),
]);

/**
 * A money-moving request, once: its Idempotency-Key (per user), a hash of what was asked, and the
 * answer given, so a retry gets the first answer and moves no money.
 */
export const moneyTransactions = pgTable('money_transactions', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  kind: text('kind').notNull(),
  idempotencyKey: text('idempotency_key').notNull(),
  /** Who asked: the customer, or the staff member for a deposit. */
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'restrict' }),
  requestHash: text('request_hash').notNull(),
  response: jsonb('response'),
  createdAt: createdAt(),
}, (t) => [
  uniqueIndex('money_transactions_idempotency_uq').on(t.userId, t.idempotencyKey),
  check('money_transactions_kind_ck', sql`${t.kind} in ('deposit', 'withdrawal', 'transfer')`),
]);

/** Double entry: the postings of a money transaction sum to zero. */
export const ledgerEntries = pgTable('ledger_entries', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  transactionId: uuid('transaction_id').notNull().references(() => moneyTransactions.id, { onDelete: 'restrict' }),
  accountId: uuid('account_id').notNull().references(() => accounts.id, { onDelete: 'restrict' }),
  /** Signed: negative leaves the account. */
  amountMinor: bigint('amount_minor', { mode: 'number' }).notNull(),
  createdAt: createdAt(),
}, (t) => [
  index('ledger_entries_account_idx').on(t.accountId, t.createdAt),
  index('ledger_entries_transaction_idx').on(t.transactionId),
  check('ledger_entries_nonzero_ck', sql`${t.amountMinor} <> 0`),
]);

/**
 * Every event the bank raises for a customer (security, money, cards, KYC), written in the
 * transaction of the change that caused it; its notifications are keyed by `event:<id>`.
 */
export const bankEvents = pgTable('bank_events', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  /** e.g. login.new_device, transfer.sent, card.blocked, kyc.approved. */
  type: text('type').notNull(),
  /** What happened, without secrets: never a code, a full card or a password. */
  payload: jsonb('payload').notNull(),
  createdAt: createdAt(),
}, (t) => [
  index('bank_events_user_idx').on(t.userId, t.createdAt),
  index('bank_events_type_idx').on(t.type, t.createdAt),
]);

/**
 * A transfer at or above the account's confirmation threshold, waiting for the SMS code bound to
 * its amount and payee. Confirming it runs the transfer once; the code confirms no other.
 */
export const pendingTransfers = pgTable('pending_transfers', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  idempotencyKey: text('idempotency_key').notNull(),
  requestHash: text('request_hash').notNull(),
  fromAccountId: uuid('from_account_id').notNull().references(() => accounts.id, { onDelete: 'restrict' }),
  toAccountId: uuid('to_account_id').notNull().references(() => accounts.id, { onDelete: 'restrict' }),
  amountMinor: bigint('amount_minor', { mode: 'number' }).notNull(),
  currency: text('currency').notNull(),
  /** How the code SMS named the payee, e.g. "account ending 4821". */
  payeeLabel: text('payee_label').notNull(),
  otpChallengeId: uuid('otp_challenge_id').references(() => otpChallenges.id, { onDelete: 'set null' }),
  /** awaiting_confirmation -> confirmed | expired | cancelled | refused */
  status: text('status').notNull().default('awaiting_confirmation'),
  /** The money transaction the confirmation made. */
  moneyTransactionId: uuid('money_transaction_id').references(() => moneyTransactions.id, { onDelete: 'restrict' }),
  createdAt: createdAt(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  confirmedAt: timestamp('confirmed_at', { withTimezone: true }),
}, (t) => [
  uniqueIndex('pending_transfers_idempotency_uq').on(t.userId, t.idempotencyKey),
  index('pending_transfers_user_idx').on(t.userId, t.createdAt),
  check('pending_transfers_status_ck', sql`${t.status} in ('awaiting_confirmation', 'confirmed', 'expired', 'cancelled', 'refused')`),
]);

/** A payment card. Never the full number: its last 4 and an opaque token the card processor knows it by. */
export const cards = pgTable('cards', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  accountId: uuid('account_id').notNull().references(() => accounts.id, { onDelete: 'restrict' }),
  last4: text('last4').notNull(),
  /** Random, opaque; stands for the card number at the processor. */
  token: text('token').notNull().unique(),
  /** active | blocked | expired */
  status: text('status').notNull().default('active'),
  blockedReason: text('blocked_reason'),
  /** The last day the card is valid (end of its expiry month). */
  expiresOn: date('expires_on', { mode: 'string' }).notNull(),
  /** When the 'card expiring' notice went out, so the scheduled job sends it once. */
  expiringNotifiedAt: timestamp('expiring_notified_at', { withTimezone: true }),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [
  index('cards_user_idx').on(t.userId),
  index('cards_expiring_idx').on(t.expiresOn).where(sql`${t.expiringNotifiedAt} is null and ${t.status} = 'active'`),
  check('cards_status_ck', sql`${t.status} in ('active', 'blocked', 'expired')`),
  check('cards_last4_ck', sql`${t.last4} ~ '^[0-9]{4}$'`),
]);

/** A customer's identity check: what they submitted and what staff decided. */
export const kycSubmissions = pgTable('kyc_submissions', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  /** submitted -> approved | rejected | more_info_needed (-> submitted again by the customer) */
  status: text('status').notNull().default('submitted'),
  fullName: text('full_name').notNull(),
  dateOfBirth: date('date_of_birth', { mode: 'string' }).notNull(),
  /** passport | national_id | driving_licence */
  documentType: text('document_type').notNull(),
  /** Only the last 4 characters of the document number are kept. */
  documentLast4: text('document_last4').notNull(),
  address: text('address').notNull(),
  /** Staff's note to the customer (what is missing, why rejected). */
  reviewNote: text('review_note'),
  reviewedBy: uuid('reviewed_by').references(() => users.id, { onDelete: 'set null' }),
  reviewedAt: timestamp('reviewed_at', { withTimezone: true }),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [
  index('kyc_submissions_user_idx').on(t.userId, t.createdAt),
  index('kyc_submissions_status_idx').on(t.status, t.createdAt),
  check('kyc_submissions_status_ck', sql`${t.status} in ('submitted', 'approved', 'rejected', 'more_info_needed')`),
]);

/** A TOTP authenticator (RFC 6238) enrolled by a customer without reliable signal. */
export const totpCredentials = pgTable('totp_credentials', {
  userId: uuid('user_id').primaryKey().references(() => users.id, { onDelete: 'cascade' }),
  /** The shared secret, encrypted (AES-256-GCM) with the server's data key; never in clear. */
  secretEncrypted: text('secret_encrypted').notNull(),
  /** Null until the customer proved their app with a first code. */
  confirmedAt: timestamp('confirmed_at', { withTimezone: true }),
  /** The last 30-second step accepted: a code is never accepted twice. */
  lastUsedStep: bigint('last_used_step', { mode: 'number' }),
  createdAt: createdAt(),
});

/** Ten single-use backup codes per customer, stored hashed. */
export const backupCodes = pgTable('backup_codes', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  codeHash: text('code_hash').notNull(),
  usedAt: timestamp('used_at', { withTimezone: true }),
  createdAt: createdAt(),
}, (t) => [index('backup_codes_user_idx').on(t.userId)]);

/** Countries a customer has signed in from, for the 'login from a new country' rule. */
export const loginCountries = pgTable('login_countries', {
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  /** ISO 3166-1 alpha-2. */
  country: text('country').notNull(),
  firstSeen: timestamp('first_seen', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.userId, t.country] })]);

/** SMS replies from customers (STOP, START, HELP, anything else), as Twilio's webhook delivered them. */
export const smsInbound = pgTable('sms_inbound', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  twilioSid: text('twilio_sid').notNull().unique(),
  fromNumber: text('from_number').notNull(),
  toNumber: text('to_number').notNull(),
  body: text('body').notNull(),
  /** opt_out | opt_in | help | null for anything else. */
  keyword: text('keyword'),
  receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [index('sms_inbound_from_idx').on(t.fromNumber, t.receivedAt)]);

/**
 * Every change staff (or the CLI, or a customer changing their number) made, written in the
 * transaction of the change: who, when, what, before and after, never a secret or a code.
 * Append-only: triggers refuse UPDATE, DELETE and TRUNCATE (drizzle/0009_staff_console.sql).
 */
export const auditLog = pgTable('audit_log', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  /** staff (console or staff API), customer (their own API), cli (an operator at the terminal). */
  actorKind: text('actor_kind').notNull(),
  /** No foreign key: a row outlives its actor, and may never be rewritten by a cascade. */
  actorId: uuid('actor_id'),
  actorName: text('actor_name').notNull(),
  /** e.g. phone.changed, template.saved, kyc.reviewed, deposit.made, unreachable.cleared, test_sms.sent. */
  action: text('action').notNull(),
  subjectUserId: uuid('subject_user_id'),
  /** What was changed, e.g. user:alice, template:transaction/en/sms, account ending 4821. */
  subject: text('subject').notNull(),
  before: jsonb('before'),
  after: jsonb('after'),
}, (t) => [
  index('audit_log_at_idx').on(t.at, t.id),
  index('audit_log_subject_user_idx').on(t.subjectUserId, t.at),
  check('audit_log_actor_kind_ck', sql`${t.actorKind} in ('staff', 'customer', 'cli')`),
]);

/** Each status an SMS went through, written by a trigger on sms_messages: the message timeline. */
export const smsStatusHistory = pgTable('sms_status_history', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  smsMessageId: uuid('sms_message_id').notNull().references(() => smsMessages.id, { onDelete: 'cascade' }),
  status: text('status').notNull(),
  previousStatus: text('previous_status'),
  errorCode: integer('error_code'),
  at: timestamp('at', { withTimezone: true }).notNull(),
  /**
   * What moved the status (src/sms/status-source.ts): callback, status_check, send_answer or
   * lost_send_recovery; null for the worker's own steps (claimed, expired unsent) and older rows.
   * The trigger reads it from the transaction's setting dominion.status_source.
   */
  source: text('source'),
}, (t) => [index('sms_status_history_message_idx').on(t.smsMessageId, t.at)]);

/**
 * The SMS consent record, append-only, as a bank must keep it: each time a customer agreed to SMS
 * or withdrew, when and how (registration, a STOP or START reply, a preference in the app). The
 * number's opt-out itself lives in phone_status; this is its history.
 */
export const smsConsents = pgTable('sms_consents', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  /** The customer whose number it was at the time; null when no customer had it. */
  userId: uuid('user_id').references(() => users.id, { onDelete: 'set null' }),
  phoneNumber: text('phone_number').notNull(),
  action: text('action').notNull(),
  /** registration | sms_reply | preference. */
  method: text('method').notNull(),
  /** What was said or done, e.g. "replied STOP", "verified the number at registration". */
  detail: text('detail').notNull(),
  createdAt: createdAt(),
  /** Order of entry, for entries of one instant. */
  seq: bigserial('seq', { mode: 'number' }).notNull(),
}, (t) => [
  index('sms_consents_user_idx').on(t.userId, t.createdAt),
  index('sms_consents_phone_idx').on(t.phoneNumber, t.createdAt),
  check('sms_consents_action_ck', sql`${t.action} in ('granted', 'withdrawn')`),
  check('sms_consents_method_ck', sql`${t.method} in ('registration', 'sms_reply', 'preference')`),
]);

/**
 * The call log: one row per voice call that reads a one-time code ("call me instead", or the
 * fallback when SMS cannot reach the number). Like sms_messages, the code is minted by the worker
 * that places the call and is never stored; spoken_redacted has it as digits masked.
 */
export const voiceCalls = pgTable('voice_calls', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  /** The code's notification type, e.g. two_factor_code. */
  type: text('type').notNull(),
  userId: uuid('user_id').references(() => users.id, { onDelete: 'set null' }),
  toNumber: text('to_number').notNull(),
  fromNumber: text('from_number'),
  /** The language the call speaks, e.g. en, es. */
  language: text('language').notNull(),
  /** What the call says, with the code masked. */
  spokenRedacted: text('spoken_redacted').notNull(),
  /** For a transfer code: the sentence naming its amount and payee, spoken with the code. */
  about: text('about'),
  otpChallengeId: uuid('otp_challenge_id').references(() => otpChallenges.id, { onDelete: 'set null' }),
  /** Not placed after this instant (the code's expiry). */
  sendBefore: timestamp('send_before', { withTimezone: true }),
  /** pending -> queued/ringing/in-progress -> completed | busy | no-answer | failed | canceled; 'expired' when not placed in time. */
  status: text('status').notNull().default('pending'),
  twilioSid: text('twilio_sid').unique(),
  errorCode: integer('error_code'),
  errorMessage: text('error_message'),
  /** Estimated USD price (VOICE_PRICE_PER_MINUTE x one minute). */
  priceEstimate: numeric('price_estimate', { precision: 12, scale: 5 }).notNull(),
  price: numeric('price', { precision: 12, scale: 5 }),
  priceUnit: text('price_unit'),
  durationSeconds: integer('duration_seconds'),
  attempts: integer('attempts').notNull().default(0),
  createdAt: createdAt(),
  placedAt: timestamp('placed_at', { withTimezone: true }),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [
  index('voice_calls_user_idx').on(t.userId, t.createdAt),
  index('voice_calls_challenge_idx').on(t.otpChallengeId),
]);

export const schema = {
  users, userProfiles, otpChallenges, smsMessages, senderThrottle,
  notificationTemplates, notificationPreferences, notificationSettings, notificationDigestItems,
  notifications, rateLimitCounters, phoneStatus, smsDeliveryAttempts,
  devices, sessions, loginChallenges, loginFailures, loginLockouts, accounts, moneyTransactions, ledgerEntries,
  bankEvents, pendingTransfers, cards, kycSubmissions, totpCredentials, backupCodes, loginCountries, smsInbound,
  auditLog, smsStatusHistory,
  smsConsents, voiceCalls,
};
export type Schema = typeof schema;

/**
 * Which auth token signed Twilio's webhooks, by a fingerprint (SHA-256 prefix, never the token):
 * during a rotation, --check-setup reads it to say when TWILIO_AUTH_TOKEN_PREVIOUS may be removed.
 */
export const twilioWebhookSigners = pgTable('twilio_webhook_signers', {
  tokenFingerprint: text('token_fingerprint').primaryKey(),
  firstSeenAt: timestamp('first_seen_at', { withTimezone: true }).notNull(),
  lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull(),
  callbacks: bigint('callbacks', { mode: 'number' }).notNull().default(0),
});
