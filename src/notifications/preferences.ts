// What each customer wants: channels per notification type, quiet hours, the daily digest and the
// time zone alerts follow. Types they never set use the catalogue's defaults; critical security
// types keep a floor no customer choice can go under (see ChannelFloor in catalogue.ts).
import { eq, sql } from 'drizzle-orm';
import type { Queryable } from '../db/connection.ts';
import { notificationPreferences, notificationSettings, userProfiles, users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { CATALOGUE, notificationType, type ChannelFloor, type NotificationTypeId, type NotificationTypeSpec } from './catalogue.ts';
import { checkTimeZone, type QuietHours } from './quiet-hours.ts';

export interface ChannelChoice {
  sms: boolean;
  email: boolean;
}

export interface NotificationPreference extends ChannelChoice {
  type: NotificationTypeId;
  /** 'customer' once they chose; 'default' while the catalogue decides. */
  source: 'customer' | 'default';
  /** What they cannot switch off. */
  floor: ChannelFloor;
}

/** Quiet hours a customer gets until they choose: 22:00 to 07:00 in their time zone. */
export const DEFAULT_QUIET_HOURS: QuietHours = { startMinute: 22 * 60, endMinute: 7 * 60 };
/** Same default as user_profiles.time_zone, for a user without a profile. */
export const DEFAULT_TIME_ZONE = 'America/New_York';

export interface NotificationSettings {
  quietHours: QuietHours;
  digestTransactions: boolean;
  /** The zone quiet hours and dates follow. */
  timeZone: string;
  /** Where timeZone came from: the notification override, the profile, or the bank default. */
  timeZoneSource: 'override' | 'profile' | 'default';
}

async function requireUser(db: Queryable, userId: string): Promise<void> {
  const [user] = await db.select({ id: users.id }).from(users).where(eq(users.id, userId));
  if (!user) throw new AppError('not_found', `No user with id ${userId}.`);
}

/** Every type of the catalogue with the channels this customer gets it on, in catalogue order. */
export async function getPreferences(db: Queryable, userId: string): Promise<NotificationPreference[]> {
  const rows = await db.select().from(notificationPreferences).where(eq(notificationPreferences.userId, userId));
  const chosen = new Map(rows.map((r) => [r.type, r]));
  return CATALOGUE.map((spec) => {
    const row = chosen.get(spec.id);
    const channels = row ? { sms: row.sms, email: row.email } : spec.defaultChannels;
    return { type: spec.id, ...channels, source: row ? 'customer' : 'default', floor: spec.floor };
  });
}

/** Refuses a choice the type does not allow, with the reason in words a customer understands. */
export function checkChannelChoice(spec: NotificationTypeSpec, choice: ChannelChoice): void {
  if (choice.email && !spec.channels.includes('email')) {
    throw new AppError('validation_failed',
      `${spec.title} messages are sent by SMS only: a one-time code goes only to the phone it proves, never also by email.`);
  }
  if (choice.sms && !spec.channels.includes('sms')) {
    throw new AppError('validation_failed',
      `${spec.title} messages are sent by email only: they tell you that texts no longer reach your phone.`);
  }
  if (spec.floor === 'sms' && !choice.sms) {
    throw new AppError('validation_failed',
      `${spec.title} messages cannot be switched off: the code must reach your phone to sign you in or confirm the operation, so SMS stays on.`);
  }
  if (spec.floor === 'one_channel' && !choice.sms && !choice.email) {
    throw new AppError('validation_failed',
      `${spec.title} alerts protect your account and cannot be switched off entirely: keep SMS or email on (or both).`);
  }
}

/**
 * Sets the channels of one type for a customer. Throws AppError 'validation_failed' for an unknown
 * type or a choice under the type's floor, 'not_found' for an unknown user.
 */
export async function setPreference(db: Queryable, userId: string, type: string, choice: ChannelChoice): Promise<NotificationPreference> {
  const spec = notificationType(type);
  checkChannelChoice(spec, choice);
  await requireUser(db, userId);
  await db
    .insert(notificationPreferences)
    .values({ userId, type: spec.id, sms: choice.sms, email: choice.email })
    .onConflictDoUpdate({
      target: [notificationPreferences.userId, notificationPreferences.type],
      set: { sms: choice.sms, email: choice.email, updatedAt: sql`now()` },
    });
  return { type: spec.id, sms: choice.sms, email: choice.email, source: 'customer', floor: spec.floor };
}

export async function getNotificationSettings(db: Queryable, userId: string): Promise<NotificationSettings> {
  const [row] = await db
    .select({ settings: notificationSettings, profileZone: userProfiles.timeZone })
    .from(users)
    .leftJoin(notificationSettings, eq(notificationSettings.userId, users.id))
    .leftJoin(userProfiles, eq(userProfiles.userId, users.id))
    .where(eq(users.id, userId));
  if (!row) throw new AppError('not_found', `No user with id ${userId}.`);
  const { settings, profileZone } = row;
  const timeZoneSource = settings?.timeZone ? 'override' : profileZone ? 'profile' : 'default';
  return {
    quietHours: settings ? { startMinute: settings.quietStartMinute, endMinute: settings.quietEndMinute } : DEFAULT_QUIET_HOURS,
    digestTransactions: settings?.digestTransactions ?? false,
    timeZone: settings?.timeZone ?? profileZone ?? DEFAULT_TIME_ZONE,
    timeZoneSource,
  };
}

export interface SettingsChange {
  /** Start == end means no quiet hours at all. */
  quietHours?: QuietHours;
  digestTransactions?: boolean;
  /** An IANA zone for notifications only; null goes back to the profile's. */
  timeZone?: string | null;
}

function checkMinute(name: string, minute: number): void {
  if (!Number.isInteger(minute) || minute < 0 || minute > 1439) {
    throw new AppError('validation_failed', `Quiet hours ${name} must be a time of day between 00:00 and 23:59 (minute 0-1439), got ${minute}.`);
  }
}

/** Changes some of a customer's settings, keeping the others. */
export async function setNotificationSettings(db: Queryable, userId: string, change: SettingsChange): Promise<NotificationSettings> {
  if (change.quietHours) {
    checkMinute('start', change.quietHours.startMinute);
    checkMinute('end', change.quietHours.endMinute);
  }
  if (change.timeZone) checkTimeZone(change.timeZone);
  await requireUser(db, userId);
  const set = {
    ...(change.quietHours && { quietStartMinute: change.quietHours.startMinute, quietEndMinute: change.quietHours.endMinute }),
    ...(change.digestTransactions !== undefined && { digestTransactions: change.digestTransactions }),
    ...(change.timeZone !== undefined && { timeZone: change.timeZone }),
  };
  await db
    .insert(notificationSettings)
    .values({ userId, ...set })
    .onConflictDoUpdate({ target: notificationSettings.userId, set: { ...set, updatedAt: sql`now()` } });
  return getNotificationSettings(db, userId);
}
