// The devices a customer has signed in from, as the customer sees and manages them: list them, and
// forget one, which signs out every session started from it so its next sign-in is "new" again.
//
// A device is shown by an opaque id, the first 16 hex digits of its fingerprint, never the
// fingerprint itself: the fingerprint is an unsalted SHA-256 of user agent + the app's device id,
// so whoever holds it can test guesses of a device id; 64 bits of it say nothing usable but still
// tell one customer's few devices apart (a collision among them is ~n^2 / 2^65).
import { and, asc, desc, eq, gt, isNull, sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { devices, sessions } from '../db/schema.ts';
import { AppError } from '../errors.ts';

const ID_LENGTH = 16;
const DEVICE_ID = /^[0-9a-f]{16}$/;

export interface DeviceView {
  id: string;
  label: string;
  firstSeen: string;
  lastSeen: string;
  /** The device of the session that asked. */
  current: boolean;
}

export interface ForgottenDevice {
  id: string;
  /** Sessions started from the device that were still open and are now signed out. */
  sessionsRevoked: number;
  /** The asking session was one of them: its token no longer works. */
  signedOut: boolean;
}

export function deviceIdOf(fingerprint: string): string {
  return fingerprint.slice(0, ID_LENGTH);
}

function deviceNotFound(): AppError {
  return new AppError('not_found', 'No such device of yours: GET /api/devices lists the devices you have signed in from.');
}

/** The fingerprint of the device a session was started from. */
async function sessionFingerprint(db: Queryable, sessionId: string): Promise<string | undefined> {
  const [row] = await db.select({ fingerprint: sessions.deviceFingerprint }).from(sessions).where(eq(sessions.id, sessionId));
  return row?.fingerprint;
}

/** The customer's devices, most recently seen first. */
export async function listDevices(db: Queryable, userId: string, currentSessionId: string): Promise<DeviceView[]> {
  const current = await sessionFingerprint(db, currentSessionId);
  const rows = await db.select().from(devices).where(eq(devices.userId, userId))
    .orderBy(desc(devices.lastSeen), asc(devices.fingerprint));
  return rows.map((r) => ({
    id: deviceIdOf(r.fingerprint), label: r.label, firstSeen: r.firstSeen.toISOString(), lastSeen: r.lastSeen.toISOString(), current: r.fingerprint === current,
  }));
}

/**
 * Forgets one of the customer's devices and revokes every live session started from it, in one
 * transaction: a sign-in racing the delete either lands before (and is revoked) or after (and is new).
 * Another customer's device answers exactly like a missing one.
 */
export async function forgetDevice(ctx: Pick<AppContext, 'db' | 'clock'>, userId: string, deviceId: string, currentSessionId: string): Promise<ForgottenDevice> {
  // Checked before the query, so the id can carry no LIKE wildcard and a malformed one is just "not found".
  if (!DEVICE_ID.test(deviceId)) throw deviceNotFound();
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    const [device] = await tx.delete(devices)
      .where(and(eq(devices.userId, userId), sql`left(${devices.fingerprint}, ${ID_LENGTH}) = ${deviceId}`))
      .returning({ fingerprint: devices.fingerprint });
    if (!device) throw deviceNotFound();
    const revoked = await tx.update(sessions).set({ revokedAt: now })
      .where(and(eq(sessions.userId, userId), eq(sessions.deviceFingerprint, device.fingerprint), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
      .returning({ id: sessions.id });
    return {
      id: deviceId,
      sessionsRevoked: revoked.length,
      signedOut: revoked.some((s) => s.id === currentSessionId),
    };
  });
}
