// What a customer chooses about the messages the bank sends them, as one view and one change:
// channels per notification type (never under the catalogue's floor), quiet hours and the zone
// they follow, the daily digest, the language, how codes reach them (SMS or a voice call: "call
// me instead") and their SMS consent. A change is applied in one transaction together with its
// notification-preference event and the notice that tells the customer, once per change; a
// request that changes nothing records and tells nothing.
import { desc, eq, and, sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { notificationSettings, smsInbound, userProfiles } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { recordEvent } from '../events/events.ts';
import { consentHistory, recordConsent, type ConsentEntry } from '../sms/consent.ts';
import { maskPhoneNumber } from '../sms/phone.ts';
import {
  findPhoneStatus, optOutNeedsStartReply, recordChosenOptOut, recordTextedOptIn, type PhoneStatus,
} from '../sms/phone-status.ts';
import { findUserById } from '../users/users.ts';
import { CATALOGUE, type Channel, type ChannelFloor, type NotificationCategory } from './catalogue.ts';
import { getNotificationSettings, getPreferences, setNotificationSettings, setPreference, type ChannelChoice } from './preferences.ts';
import { formatClockTime, parseClockTime } from './quiet-hours.ts';
import { DEFAULT_LANGUAGES } from './templates/defaults.ts';

/** How one-time codes reach the customer: SMS, or a voice call that reads the code. */
export type CodeDelivery = 'sms' | 'voice';
export const CODE_DELIVERIES: readonly CodeDelivery[] = ['sms', 'voice'];

export interface TypeChoice extends ChannelChoice {
  type: string;
  title: string;
  category: NotificationCategory;
  /** Channels the type can use at all (codes: SMS only). */
  channels: readonly Channel[];
  source: 'customer' | 'default';
  /** What cannot be switched off: sms (codes), one_channel (critical alerts), none. */
  floor: ChannelFloor;
}

export interface SmsConsentView {
  /** Whether the bank may text the number now. */
  granted: boolean;
  /** Last 4 digits of the number, or null without one. */
  phone: string | null;
  optedOutAt: Date | null;
  /** The opt-out's reason, e.g. "replied STOP", "chose no SMS in the app", "21610 ...". */
  optedOutReason: string | null;
  /** The number cannot take SMS (a carrier said so); a later delivery lifts it. */
  unreachable: boolean;
  /** When only the customer's phone can lift the opt-out: what to text, and where. */
  howToResume: string | null;
  /** The consent record, newest first. */
  history: ConsentEntry[];
}

export interface CustomerChoices {
  notifications: TypeChoice[];
  /** null: no quiet hours at all. */
  quietHours: { start: string; end: string } | null;
  /** The IANA zone quiet hours, the digest and the times in messages follow. */
  timeZone: string;
  /** Transaction alerts as one summary SMS a day. */
  digest: boolean;
  language: string;
  /** Every language the bank has templates in. */
  languages: readonly string[];
  codeDelivery: CodeDelivery;
  sms: SmsConsentView;
}

export interface ChoicesChange {
  /** Per notification type, e.g. { transaction: { sms: false, email: true } }. */
  channels?: Record<string, ChannelChoice>;
  /** HH:MM on a 24-hour clock; null switches quiet hours off. */
  quietHours?: { start: string; end: string } | null;
  timeZone?: string;
  digest?: boolean;
  language?: string;
  codeDelivery?: CodeDelivery;
  /** false: no SMS to the number (like STOP); true: SMS again (only when the app switched it off). */
  smsConsent?: boolean;
}

export interface ChoicesChanged {
  preferences: CustomerChoices;
  /** What this request changed, e.g. ["language", "channels.transaction"]; empty: nothing, and nobody was told. */
  changed: string[];
}

type ChoicesContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>;

/** The number a customer texts START to: the one they texted STOP to, else the bank's sender. */
export async function startReplyNumber(db: Queryable, ctx: Pick<AppContext, 'config'>, phone: string): Promise<string | undefined> {
  const [stop] = await db.select({ to: smsInbound.toNumber }).from(smsInbound)
    .where(and(eq(smsInbound.fromNumber, phone), eq(smsInbound.keyword, 'opt_out')))
    .orderBy(desc(smsInbound.receivedAt)).limit(1);
  return stop?.to ?? ctx.config.twilio.phoneNumber;
}

/** How to lift an opt-out the app cannot lift, in words for the customer. */
export async function resumeHint(db: Queryable, ctx: Pick<AppContext, 'config'>, phone: string, status: PhoneStatus | undefined): Promise<string | null> {
  if (!optOutNeedsStartReply(status)) return null;
  const to = await startReplyNumber(db, ctx, phone);
  return `Text START to ${to ?? 'the number you texted STOP to'} from ${maskPhoneNumber(phone)}.`;
}

async function codeDeliveryOf(db: Queryable, userId: string): Promise<CodeDelivery> {
  const [row] = await db.select({ codeDelivery: notificationSettings.codeDelivery }).from(notificationSettings).where(eq(notificationSettings.userId, userId));
  return (row?.codeDelivery as CodeDelivery | undefined) ?? 'sms';
}

/** How this customer's codes go by default: 'voice' once they chose "call me instead". */
export function preferredCodeDelivery(db: Queryable, userId: string): Promise<CodeDelivery> {
  return codeDeliveryOf(db, userId);
}

/** Everything the customer chose, with the defaults for what they did not. */
export async function getCustomerChoices(ctx: Pick<AppContext, 'config'>, db: Queryable, userId: string): Promise<CustomerChoices> {
  const user = await findUserById(db, userId);
  if (!user) throw new AppError('not_found', 'No such customer.');
  const preferences = await getPreferences(db, userId);
  const settings = await getNotificationSettings(db, userId);
  const [profile] = await db.select({ language: userProfiles.language }).from(userProfiles).where(eq(userProfiles.userId, userId));
  const status = user.phoneNumber ? await findPhoneStatus(db, user.phoneNumber) : undefined;
  const { startMinute, endMinute } = settings.quietHours;
  return {
    notifications: preferences.map((p) => {
      const spec = CATALOGUE.find((s) => s.id === p.type)!;
      return { type: p.type, title: spec.title, category: spec.category, channels: spec.channels, sms: p.sms, email: p.email, source: p.source, floor: p.floor };
    }),
    quietHours: startMinute === endMinute ? null : { start: formatClockTime(startMinute), end: formatClockTime(endMinute) },
    timeZone: settings.timeZone,
    digest: settings.digestTransactions,
    language: profile?.language ?? 'en',
    languages: DEFAULT_LANGUAGES,
    codeDelivery: await codeDeliveryOf(db, userId),
    sms: {
      granted: Boolean(user.phoneNumber) && !status?.optedOutAt,
      phone: user.phoneNumber ? maskPhoneNumber(user.phoneNumber) : null,
      optedOutAt: status?.optedOutAt ?? null,
      optedOutReason: status?.optedOutAt ? status.reason : null,
      unreachable: Boolean(status?.unreachableAt),
      howToResume: user.phoneNumber ? await resumeHint(db, ctx, user.phoneNumber, status) : null,
      history: await consentHistory(db, userId, 20),
    },
  };
}

/** Refuses what cannot be set before anything is written, naming the field and the fix. */
function checkChange(change: ChoicesChange): void {
  if (change.language !== undefined && !DEFAULT_LANGUAGES.includes(change.language)) {
    throw new AppError('validation_failed', `language: "${change.language}" is not a language the bank writes in; choose one of ${DEFAULT_LANGUAGES.join(', ')}.`);
  }
  // IANA names only (Area/Location, or UTC): an offset such as +05:00 ignores daylight saving.
  if (change.timeZone !== undefined && !/^(?:[A-Za-z]+(?:\/[A-Za-z0-9_+-]+)+|UTC)$/.test(change.timeZone)) {
    throw new AppError('validation_failed', `timeZone: "${change.timeZone}" is not an IANA time zone name; use e.g. America/New_York, Europe/Madrid or UTC.`);
  }
  if (change.quietHours) {
    parseClockTime(change.quietHours.start);
    parseClockTime(change.quietHours.end);
  }
}

async function setLanguage(db: Queryable, userId: string, language: string, now: Date): Promise<void> {
  const updated = await db.update(userProfiles).set({ language, updatedAt: now }).where(eq(userProfiles.userId, userId)).returning({ id: userProfiles.userId });
  if (!updated.length) await db.insert(userProfiles).values({ userId, language, updatedAt: now });
}

async function setCodeDelivery(db: Queryable, userId: string, codeDelivery: CodeDelivery): Promise<void> {
  await db.insert(notificationSettings).values({ userId, codeDelivery })
    .onConflictDoUpdate({ target: notificationSettings.userId, set: { codeDelivery, updatedAt: sql`now()` } });
}

/**
 * The SMS consent from the app, kept one truth with STOP and START: switching it off opts the
 * number out as a STOP would; switching it on lifts only an opt-out the app made, since a STOP
 * (or Twilio's own block, 21610) is lifted at Twilio only by the customer texting START.
 */
async function setSmsConsent(ctx: ChoicesContext, tx: Queryable, userId: string, phone: string | null, granted: boolean, now: Date): Promise<void> {
  if (!phone) throw new AppError('validation_failed', 'smsConsent: there is no phone number on your account to text; add one first (POST /api/phone).');
  const status = await findPhoneStatus(tx, phone);
  if (!granted) {
    if (status?.optedOutAt) return;
    await recordChosenOptOut(tx, phone, now);
    await recordConsent(tx, userId, { phoneNumber: phone, action: 'withdrawn', method: 'preference', detail: 'switched SMS off in the app', now });
    return;
  }
  if (!status?.optedOutAt) return;
  if (optOutNeedsStartReply(status)) {
    throw new AppError('conflict', `smsConsent: your number ${maskPhoneNumber(phone)} is opted out because ${status.reason ?? 'it replied STOP'}; only your phone can lift that. ${await resumeHint(tx, ctx, phone, status)} Your preference here follows by itself.`);
  }
  await recordTextedOptIn(tx, phone, now);
  await recordConsent(tx, userId, { phoneNumber: phone, action: 'granted', method: 'preference', detail: 'switched SMS on in the app', now });
}

/** What differs between two views, as the names of the changed fields. */
function changedFields(before: CustomerChoices, after: CustomerChoices): string[] {
  const changed: string[] = [];
  after.notifications.forEach((a, i) => {
    const b = before.notifications[i];
    if (b && (a.sms !== b.sms || a.email !== b.email)) changed.push(`channels.${a.type}`);
  });
  if (JSON.stringify(before.quietHours) !== JSON.stringify(after.quietHours)) changed.push('quietHours');
  if (before.timeZone !== after.timeZone) changed.push('timeZone');
  if (before.digest !== after.digest) changed.push('digest');
  if (before.language !== after.language) changed.push('language');
  if (before.codeDelivery !== after.codeDelivery) changed.push('codeDelivery');
  if (before.sms.granted !== after.sms.granted) changed.push('smsConsent');
  return changed;
}

/**
 * Applies a change. Throws AppError 'validation_failed' for an unknown type, a choice under a
 * type's floor (the message names the type), a bad time, zone or language; 'conflict' for an SMS
 * consent only the customer's phone can give back (text START).
 */
export async function changeCustomerChoices(ctx: ChoicesContext, userId: string, change: ChoicesChange): Promise<ChoicesChanged> {
  checkChange(change);
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    // One change at a time per customer, so two racing requests each see what the other did.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`choices:${userId}`}))`);
    const before = await getCustomerChoices(ctx, tx, userId);
    for (const [type, choice] of Object.entries(change.channels ?? {})) await setPreference(tx, userId, type, choice);
    const quiet = change.quietHours === null
      ? { startMinute: 0, endMinute: 0 }
      : change.quietHours && { startMinute: parseClockTime(change.quietHours.start), endMinute: parseClockTime(change.quietHours.end) };
    if (quiet || change.timeZone !== undefined || change.digest !== undefined) {
      await setNotificationSettings(tx, userId, { quietHours: quiet || undefined, timeZone: change.timeZone, digestTransactions: change.digest });
    }
    if (change.language !== undefined) await setLanguage(tx, userId, change.language, now);
    if (change.codeDelivery !== undefined) await setCodeDelivery(tx, userId, change.codeDelivery);
    if (change.smsConsent !== undefined) {
      const user = await findUserById(tx, userId);
      await setSmsConsent(ctx, tx, userId, user?.phoneNumber ?? null, change.smsConsent, now);
    }
    const after = await getCustomerChoices(ctx, tx, userId);
    const changed = changedFields(before, after);
    if (changed.length) {
      await recordEvent(ctx, tx, {
        userId, type: 'preferences.changed',
        payload: {
          changed: changed.join(','),
          ...(changed.includes('language') && { language: after.language }),
          ...(changed.includes('timeZone') && { timeZone: after.timeZone }),
          ...(changed.includes('quietHours') && { quietHours: after.quietHours ? `${after.quietHours.start}-${after.quietHours.end}` : 'off' }),
          ...(changed.includes('digest') && { digest: after.digest }),
          ...(changed.includes('codeDelivery') && { codeDelivery: after.codeDelivery }),
          ...(changed.includes('smsConsent') && { smsConsent: after.sms.granted }),
        },
        notify: [{ type: 'preferences_changed', values: { time: now } }],
      });
    }
    return { preferences: after, changed };
  });
}
