// Customer profiles as bank staff see them on /admin/accounts/userprofile/: found by username,
// email or the last 4 digits of the phone, with the phone masked to its last 4, whether it is
// verified, opted out (STOP) or unreachable (failed deliveries), language, time zone and the last
// SMS. Staff can clear an unreachable mark and send the customer a test SMS; both are audited in
// the transaction that does them. Phone changes go through src/users/phone-number.ts.
import { and, asc, eq, gt, ilike, like, or, sql, type SQL } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { phoneStatus, smsMessages, userProfiles, users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { recordAudit } from '../audit/audit.ts';
import { coolingOffUntil } from '../bank/cooling-off.ts';
import { isUuid } from '../db/ids.ts';
import { queueSms } from '../sms/outbox.ts';
import { maskPhoneNumber, normalisePhoneNumber } from '../sms/phone.ts';
import { phonePolicyFor } from '../sms/phone-policy.ts';
import { TEST_MESSAGE_BODY } from '../twilio-setup/sends.ts';

export const MAX_PROFILE_PAGE = 100;

export interface ProfileView {
  id: string;
  username: string;
  email: string | null;
  isStaff: boolean;
  isActive: boolean;
  /** Last 4 digits only, e.g. ***2671; null without a number. */
  phone: string | null;
  phoneVerified: boolean;
  optedOutAt: string | null;
  unreachableAt: string | null;
  /** The Twilio error or reply behind a mark, e.g. "30005 Unknown Handset". */
  phoneMarkReason: string | null;
  language: string;
  timeZone: string;
  lastSmsAt: string | null;
}

export interface ProfileDetail extends ProfileView {
  phoneChangedAt: string | null;
  /** Permanent failures in a row of texts to the number; it is marked unreachable at SMS_UNREACHABLE_AFTER. */
  permanentFailures: number;
  /** The threshold, for "2 of 3". */
  unreachableAfter: number;
  /** When the customer was emailed that texts no longer reach the number; null until then. */
  unreachableNotifiedAt: string | null;
  /** While set, large transfers and new payees wait (PHONE_CHANGE_COOLING_OFF). */
  coolingOffUntil: string | null;
}

const NOT_FOUND = 'No customer profile with this id. Find the customer on /admin/accounts/userprofile/.';

function columns() {
  return {
    id: users.id, username: users.username, email: users.email, isStaff: users.isStaff, isActive: users.isActive,
    phoneNumber: userProfiles.phoneNumber, phoneVerifiedAt: userProfiles.phoneVerifiedAt, phoneChangedAt: userProfiles.phoneChangedAt,
    language: userProfiles.language, timeZone: userProfiles.timeZone,
    optedOutAt: phoneStatus.optedOutAt, unreachableAt: phoneStatus.unreachableAt, reason: phoneStatus.reason,
    permanentFailures: phoneStatus.permanentFailures, unreachableNotifiedAt: phoneStatus.unreachableNotifiedAt,
    lastSmsAt: sql<string | null>`(select max(${smsMessages.createdAt}) from ${smsMessages} where ${smsMessages.userId} = ${users.id})`,
  };
}

interface ProfileRow {
  id: string; username: string; email: string | null; isStaff: boolean; isActive: boolean; phoneNumber: string | null;
  phoneVerifiedAt: Date | null; phoneChangedAt: Date | null; language: string | null; timeZone: string | null;
  optedOutAt: Date | null; unreachableAt: Date | null; reason: string | null; lastSmsAt: string | Date | null;
  permanentFailures: number | null; unreachableNotifiedAt: Date | null;
}

const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

function view(row: ProfileRow): ProfileView {
  return {
    id: row.id, username: row.username, email: row.email, isStaff: row.isStaff, isActive: row.isActive,
    phone: row.phoneNumber ? maskPhoneNumber(row.phoneNumber) : null,
    phoneVerified: row.phoneVerifiedAt !== null,
    optedOutAt: iso(row.optedOutAt), unreachableAt: iso(row.unreachableAt), phoneMarkReason: row.reason,
    language: row.language ?? 'en', timeZone: row.timeZone ?? 'America/New_York', lastSmsAt: iso(row.lastSmsAt),
  };
}

function base(db: Queryable) {
  return db.select(columns()).from(users)
    .leftJoin(userProfiles, eq(userProfiles.userId, users.id))
    .leftJoin(phoneStatus, eq(phoneStatus.phoneNumber, userProfiles.phoneNumber));
}

/**
 * Profiles by username, one keyset page after `after` (a username). `q` matches the username or
 * email (case-insensitive, anywhere) or, when it is 4 digits, the end of the phone number.
 */
export async function listProfiles(db: Queryable, filter: { q?: string; after?: string; limit: number }): Promise<{ profiles: ProfileView[]; more: boolean }> {
  const where: SQL[] = [];
  const q = filter.q?.trim();
  if (q) {
    const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const matches = [ilike(users.username, pattern), ilike(users.email, pattern)];
    if (/^\d{4}$/.test(q)) matches.push(like(userProfiles.phoneNumber, `%${q}`));
    where.push(or(...matches)!);
  }
  if (filter.after) where.push(gt(users.username, filter.after));
  const rows = await base(db).where(where.length ? and(...where) : undefined).orderBy(asc(users.username)).limit(filter.limit + 1);
  return { profiles: rows.slice(0, filter.limit).map((r) => view(r)), more: rows.length > filter.limit };
}

export async function getProfile(db: Queryable, config: AppContext['config'], userId: string, now: Date): Promise<ProfileDetail> {
  if (!isUuid(userId)) throw new AppError('not_found', NOT_FOUND);
  const [row] = await base(db).where(eq(users.id, userId));
  if (!row) throw new AppError('not_found', NOT_FOUND);
  const until = await coolingOffUntil(db, config, userId, now);
  return {
    ...view(row), phoneChangedAt: iso(row.phoneChangedAt), coolingOffUntil: until ? until.toISOString() : null,
    permanentFailures: row.permanentFailures ?? 0, unreachableAfter: config.smsUnreachableAfter, unreachableNotifiedAt: iso(row.unreachableNotifiedAt),
  };
}

async function phoneOf(tx: Queryable, userId: string): Promise<{ username: string; phoneNumber: string | null }> {
  if (!isUuid(userId)) throw new AppError('not_found', NOT_FOUND);
  const [row] = await tx.select({ username: users.username, phoneNumber: userProfiles.phoneNumber }).from(users)
    .leftJoin(userProfiles, eq(userProfiles.userId, users.id)).where(eq(users.id, userId));
  if (!row) throw new AppError('not_found', NOT_FOUND);
  return row;
}

/**
 * Lifts the unreachable mark of the customer's number (the customer fixed their phone, or the
 * carrier did), so notifications go by SMS again. An opt-out stays: only the customer's START lifts it.
 */
export async function clearUnreachable(ctx: Pick<AppContext, 'db' | 'clock'>, staffId: string, userId: string): Promise<ProfileView['unreachableAt']> {
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    const { username, phoneNumber } = await phoneOf(tx, userId);
    const [mark] = phoneNumber ? await tx.select().from(phoneStatus).where(eq(phoneStatus.phoneNumber, phoneNumber)).for('update') : [];
    if (!phoneNumber || !mark?.unreachableAt) throw new AppError('conflict', `${username}'s phone number is not marked unreachable: there is nothing to clear.`);
    if (mark.optedOutAt) {
      await tx.update(phoneStatus).set({ unreachableAt: null, permanentFailures: 0, unreachableNotifiedAt: null, updatedAt: now }).where(eq(phoneStatus.phoneNumber, phoneNumber));
    }
    else await tx.delete(phoneStatus).where(eq(phoneStatus.phoneNumber, phoneNumber));
    await recordAudit(tx, {
      actor: { kind: 'staff', userId: staffId }, action: 'unreachable.cleared', subject: `user:${username}`, subjectUserId: userId, at: now,
      before: { phone: maskPhoneNumber(phoneNumber), unreachableAt: mark.unreachableAt.toISOString(), reason: mark.reason }, after: { phone: maskPhoneNumber(phoneNumber), unreachableAt: null },
    });
    return null;
  });
}

export interface TestSmsQueued {
  messageId: string;
  /** Last 4 digits only. */
  destination: string;
}

/**
 * Queues the test SMS of `test_twilio_sms --phone` to a customer's number or to a number typed
 * on the setup page, audited in the same transaction. The number is checked as everywhere
 * ("Invalid Phone Number", countries outside SMS_ALLOWED_COUNTRIES refused by name).
 */
export async function sendStaffTestSms(
  ctx: Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>, staffId: string, target: { userId: string } | { phoneNumber: string },
): Promise<TestSmsQueued> {
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    const owner = 'userId' in target ? await phoneOf(tx, target.userId) : undefined;
    if (owner && !owner.phoneNumber) throw new AppError('no_phone_number', `User has no phone number: ${owner.username} has none on their profile. Add one above first.`);
    const phone = normalisePhoneNumber(owner?.phoneNumber ?? ('phoneNumber' in target ? target.phoneNumber : ''), phonePolicyFor(ctx.config));
    const queued = await queueSms(ctx, tx, {
      type: 'test_message', lane: 'sms.standard', userId: 'userId' in target ? target.userId : null, to: phone.e164, country: phone.country, body: TEST_MESSAGE_BODY,
    });
    const destination = maskPhoneNumber(phone.e164);
    await recordAudit(tx, {
      actor: { kind: 'staff', userId: staffId }, action: 'test_sms.sent', subject: owner ? `user:${owner.username}` : `number ${destination}`,
      subjectUserId: 'userId' in target ? target.userId : null, at: now, after: { to: destination, messageId: queued.id },
    });
    return { messageId: queued.id, destination };
  });
}
