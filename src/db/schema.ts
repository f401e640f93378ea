// The one Drizzle schema, for embedded PGlite and PostgreSQL alike.
// Migrations in ./drizzle are generated from it (`npm run db:generate`) and only ever added to.
import { sql } from 'drizzle-orm';
import { boolean, check, date, index, integer, jsonb, numeric, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const users = pgTable('users', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  username: text('username').notNull().unique(),
  email: text('email').unique(),
  /** scrypt hash in PHC-like form; never the password. */
  passwordHash: text('password_hash').notNull(),
  isStaff: boolean('is_staff').notNull().default(false),
  isActive: boolean('is_active').notNull().default(true),
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
}, (t) => [
  index('sms_messages_user_idx').on(t.userId, t.createdAt),
  index('sms_messages_created_idx').on(t.createdAt),
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
}, (t) => [
  check('notification_settings_quiet_ck', sql`${t.quietStartMinute} between 0 and 1439 and ${t.quietEndMinute} between 0 and 1439`),
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

export const schema = {
  users, userProfiles, otpChallenges, smsMessages, senderThrottle,
  notificationTemplates, notificationPreferences, notificationSettings, notificationDigestItems,
};
export type Schema = typeof schema;
