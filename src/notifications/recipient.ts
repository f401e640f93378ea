// Everything the policy step needs to know about the customer, in one query: their email, phone
// and what delivery failures taught us about it, language, time zone, quiet hours and digest
// choice. One read instead of four matters at the rate alerts are dispatched.
import { eq, inArray } from 'drizzle-orm';
import type { Queryable } from '../db/connection.ts';
import { notificationSettings, phoneStatus, userProfiles, users } from '../db/schema.ts';
import type { PhoneStatus } from '../sms/phone-status.ts';
import { DEFAULT_QUIET_HOURS, DEFAULT_TIME_ZONE, type NotificationSettings } from './preferences.ts';

export interface Recipient {
  userId: string;
  email: string | null;
  /** E.164 as stored on the profile, or null. */
  phoneNumber: string | null;
  /** What failures marked on that number, if anything. */
  phoneStatus: PhoneStatus | undefined;
  language: string;
  settings: NotificationSettings;
}

export async function loadRecipient(db: Queryable, userId: string): Promise<Recipient | undefined> {
  return (await loadRecipients(db, [userId])).get(userId);
}

/** The recipients of a batch of notifications, in one query, by user id (a missing user is absent). */
export async function loadRecipients(db: Queryable, userIds: readonly string[]): Promise<Map<string, Recipient>> {
  const rows = await db
    .select({ userId: users.id, email: users.email, profile: userProfiles, settings: notificationSettings, phone: phoneStatus })
    .from(users)
    .leftJoin(userProfiles, eq(userProfiles.userId, users.id))
    .leftJoin(notificationSettings, eq(notificationSettings.userId, users.id))
    .leftJoin(phoneStatus, eq(phoneStatus.phoneNumber, userProfiles.phoneNumber))
    .where(userIds.length === 1 ? eq(users.id, userIds[0]!) : inArray(users.id, [...new Set(userIds)]));
  return new Map(rows.map((row) => [row.userId, recipientOf(row.userId, row)]));
}

function recipientOf(userId: string, row: {
  email: string | null; profile: typeof userProfiles.$inferSelect | null; settings: typeof notificationSettings.$inferSelect | null;
  phone: typeof phoneStatus.$inferSelect | null;
}): Recipient {
  const { profile, settings } = row;
  const timeZoneSource = settings?.timeZone ? 'override' : profile?.timeZone ? 'profile' : 'default';
  return {
    userId,
    email: row.email,
    phoneNumber: profile?.phoneNumber ?? null,
    phoneStatus: row.phone ?? undefined,
    language: profile?.language ?? 'en',
    settings: {
      quietHours: settings ? { startMinute: settings.quietStartMinute, endMinute: settings.quietEndMinute } : DEFAULT_QUIET_HOURS,
      digestTransactions: settings?.digestTransactions ?? false,
      timeZone: settings?.timeZone ?? profile?.timeZone ?? DEFAULT_TIME_ZONE,
      timeZoneSource,
    },
  };
}
