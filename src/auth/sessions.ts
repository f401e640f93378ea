// Signed-in sessions as opaque bearer tokens: 32 random bytes given to the client once, only
// their SHA-256 stored; revocable, expiring (a staff member's sooner, and after idle time too).
// And the devices a user has signed in from.
import { createHash, randomBytes } from 'node:crypto';
import Bowser from 'bowser';
import { and, eq, gt, isNull, ne, sql } from 'drizzle-orm';
import type { StaffSessionRules } from '../config.ts';
import type { Queryable } from '../db/connection.ts';
import { devices, sessions, users } from '../db/schema.ts';

/** A session lasts 12 hours from sign-in; then the customer signs in again. */
export const SESSION_TTL_MS = 12 * 60 * 60_000;
/** A staff session's last use is written at most this often, so its idle timeout runs at most this much early. */
const LAST_SEEN_STEP_MS = 60_000;

export interface NewSession {
  /** The bearer token: shown once, never stored. */
  token: string;
  expiresAt: Date;
}

/** The signed-in user a valid token stands for. */
export interface SessionUser {
  sessionId: string;
  userId: string;
  username: string;
  isStaff: boolean;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A device as login sees it: a hash of the user agent and the app's device id, and a label for alerts. */
export interface Device {
  fingerprint: string;
  label: string;
}

export function deviceOf(userAgent: string | undefined, deviceId: string | undefined): Device {
  const agent = (userAgent ?? '').slice(0, 512);
  const fingerprint = createHash('sha256').update(`${agent}\n${deviceId ?? ''}`).digest('hex');
  return { fingerprint, label: deviceLabel(agent) };
}

/**
 * Longest label: the new-device SMS has room for it, the longest IPv4 address as the place and a
 * full date, in one segment (test/auth/device-label.test.ts renders every language).
 */
const LABEL_LIMIT = 22;
/** bowser's longest common names, as people say them. */
const SHORT_NAMES: Record<string, string> = { 'Microsoft Edge': 'Edge', 'Samsung Internet for Android': 'Samsung Internet' };

/**
 * The device as a customer knows it, "Chrome (Windows)", "Safari (iOS)" in any language (bowser reads the user
 * agent; every browser sends "Mozilla/5.0" first, so that token says nothing). An app's own agent
 * ("DominionApp/1.0") is named by its product token.
 */
export function deviceLabel(userAgent: string): string {
  // bowser throws on an empty agent; a client that sends none is still a device.
  if (userAgent.trim() === '') return 'an unknown device';
  const parsed = Bowser.parse(userAgent);
  const browser = (SHORT_NAMES[parsed.browser.name ?? ''] ?? parsed.browser.name)?.slice(0, LABEL_LIMIT);
  const system = parsed.os.name?.slice(0, LABEL_LIMIT);
  if (browser && system && browser.length + system.length + 3 <= LABEL_LIMIT) return `${browser} (${system})`;
  if (browser || system) return (browser || system)!;
  const product = userAgent.split(/[\s(]/)[0]?.slice(0, LABEL_LIMIT);
  return product && product !== 'Mozilla/5.0' ? product : 'an unknown device';
}

/** A new session; a staff member's (`staff` given) ends at the staff maximum age instead of 12 hours. */
export async function createSession(db: Queryable, userId: string, device: Device, now: Date, staff?: StaffSessionRules): Promise<NewSession> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + Math.min(SESSION_TTL_MS, staff?.maxAgeMs ?? SESSION_TTL_MS));
  await db.insert(sessions).values({ userId, tokenHash: hashToken(token), deviceFingerprint: device.fingerprint, createdAt: now, expiresAt, lastSeenAt: now });
  return { token, expiresAt };
}

/** What a token stands for: its live session's user, a staff session that just ended and why, or nothing. */
export type SessionCheck =
  | { user: SessionUser }
  | { ended: 'staff_idle' | 'staff_max_age' }
  | undefined;

/**
 * The user of a live session (not revoked, not expired, user active). A staff member's session
 * also ends `staff.idleMs` after its last use and `staff.maxAgeMs` after sign-in, whenever it
 * was made (a customer made staff keeps no 12-hour session): it is revoked then, and said so.
 */
export async function findSessionUser(db: Queryable, token: string, now: Date, staff: StaffSessionRules): Promise<SessionCheck> {
  const [row] = await db
    .select({
      sessionId: sessions.id, userId: users.id, username: users.username, isStaff: users.isStaff,
      createdAt: sessions.createdAt, lastSeenAt: sessions.lastSeenAt,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.tokenHash, hashToken(token)), isNull(sessions.revokedAt), gt(sessions.expiresAt, now), eq(users.isActive, true)));
  if (!row) return undefined;
  const { createdAt, lastSeenAt, ...user } = row;
  if (!user.isStaff) return { user };
  const lastSeen = lastSeenAt ?? createdAt;
  const ended = now.getTime() >= createdAt.getTime() + staff.maxAgeMs ? 'staff_max_age'
    : now.getTime() >= lastSeen.getTime() + staff.idleMs ? 'staff_idle' : undefined;
  if (ended) {
    await revokeSession(db, user.sessionId, now);
    return { ended };
  }
  if (now.getTime() - lastSeen.getTime() >= LAST_SEEN_STEP_MS) {
    await db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, user.sessionId));
  }
  return { user };
}

export async function revokeSession(db: Queryable, sessionId: string, now: Date): Promise<void> {
  await db.update(sessions).set({ revokedAt: now }).where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
}

/**
 * Revokes every live session of a user (a lockout, a password change), except `keep` when given:
 * the session that changed the password stays signed in. Returns how many were revoked.
 */
export async function revokeUserSessions(db: Queryable, userId: string, now: Date, keep?: string): Promise<number> {
  const revoked = await db
    .update(sessions)
    .set({ revokedAt: now })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now), keep ? ne(sessions.id, keep) : undefined))
    .returning({ id: sessions.id });
  return revoked.length;
}

/** True when the user has signed in from this device before. */
export async function isKnownDevice(db: Queryable, userId: string, fingerprint: string): Promise<boolean> {
  const rows = await db.select({ userId: devices.userId }).from(devices).where(and(eq(devices.userId, userId), eq(devices.fingerprint, fingerprint))).limit(1);
  return rows.length > 0;
}

/** Records a sign-in from a device; true when this user had never signed in from it before. */
export async function rememberDevice(db: Queryable, userId: string, device: Device, now: Date): Promise<boolean> {
  const inserted = await db
    .insert(devices)
    .values({ userId, fingerprint: device.fingerprint, label: device.label, firstSeen: now, lastSeen: now })
    .onConflictDoUpdate({ target: [devices.userId, devices.fingerprint], set: { lastSeen: now } })
    // xmax = 0 only on a freshly inserted row: the way PostgreSQL tells insert from update.
    .returning({ isNew: sql<boolean>`(xmax = 0)` });
  return inserted[0]?.isNew ?? false;
}
