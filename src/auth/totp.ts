// Authenticator-app codes (TOTP, RFC 6238: HMAC-SHA-1, 30-second steps, 6 digits) for customers
// without reliable signal. Enrolment shows the secret once (as an otpauth:// URI for a QR code and
// as base32 to type); it is stored sealed with the data key and becomes active only when a first
// code proves the app has it. A code is accepted one step either side of now (clock drift) and a
// step is never accepted twice, so a code seen over a shoulder cannot be replayed.
import { timingSafeEqual } from 'node:crypto';
import { and, eq, isNotNull } from 'drizzle-orm';
import { Secret, TOTP } from 'otpauth';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { totpCredentials, users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { recordEvent } from '../events/events.ts';
import { confirmCurrentPassword } from './reauthenticate.ts';
import { BANK_NAME } from '../notifications/catalogue.ts';
import { dataKeyFor, seal, unseal } from './data-key.ts';

export const TOTP_POLICY = { periodSeconds: 30, digits: 6, algorithm: 'SHA1', secretBytes: 20, driftSteps: 1 } as const;

type TotpContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>;

export interface TotpEnrolment {
  /** otpauth://totp/... for the authenticator app (usually shown as a QR code). */
  uri: string;
  /** The same secret in base32, for typing in by hand. Shown this once only. */
  secret: string;
}

export type TotpCheck = 'ok' | 'wrong_code' | 'replayed' | 'not_enrolled';

function totpFor(secret: Secret, label: string): TOTP {
  return new TOTP({ issuer: BANK_NAME, label, secret, algorithm: TOTP_POLICY.algorithm, digits: TOTP_POLICY.digits, period: TOTP_POLICY.periodSeconds });
}

/** The 30-second step an instant falls in (RFC 6238's T). */
export function totpStep(now: Date): number {
  return Math.floor(now.getTime() / 1000 / TOTP_POLICY.periodSeconds);
}

/** The code of a secret at an instant; exported for the RFC 6238 test vectors. */
export function totpCode(secret: Uint8Array, at: Date): string {
  return TOTP.generate({ secret: new Secret({ buffer: Uint8Array.from(secret).buffer }), algorithm: TOTP_POLICY.algorithm, digits: TOTP_POLICY.digits, period: TOTP_POLICY.periodSeconds, timestamp: at.getTime() });
}

/**
 * Starts (or restarts) enrolment: a new secret replaces one not yet confirmed. Throws 'conflict'
 * when an authenticator is already active.
 */
export async function startTotpEnrolment(ctx: TotpContext, userId: string, currentPassword: string): Promise<TotpEnrolment> {
  await confirmCurrentPassword(ctx, userId, currentPassword);
  const key = dataKeyFor(ctx.config);
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    const [user] = await tx.select({ username: users.username }).from(users).where(eq(users.id, userId)).for('update');
    if (!user) throw new AppError('not_found', 'No such user.');
    const [existing] = await tx.select({ confirmedAt: totpCredentials.confirmedAt }).from(totpCredentials).where(eq(totpCredentials.userId, userId));
    if (existing?.confirmedAt) {
      throw new AppError('conflict', 'An authenticator app is already active on your account: sign in with it, or call us to replace it.');
    }
    const secret = new Secret({ size: TOTP_POLICY.secretBytes });
    const secretEncrypted = seal(key, Buffer.from(secret.bytes), userId);
    await tx.insert(totpCredentials).values({ userId, secretEncrypted, confirmedAt: null, lastUsedStep: null, createdAt: now })
      .onConflictDoUpdate({ target: totpCredentials.userId, set: { secretEncrypted, confirmedAt: null, lastUsedStep: null, createdAt: now } });
    return { uri: totpFor(secret, user.username).toString(), secret: secret.base32 };
  });
}

/**
 * Checks a code against the user's credential, locked for the check so two requests cannot both
 * use one step. `confirmed`: only an active credential (login) or only a pending one (enrolment).
 */
async function checkCode(ctx: TotpContext, tx: Queryable, userId: string, code: string, confirmed: boolean): Promise<TotpCheck> {
  const [credential] = await tx.select().from(totpCredentials)
    .where(and(eq(totpCredentials.userId, userId), confirmed ? isNotNull(totpCredentials.confirmedAt) : undefined)).for('update');
  if (!credential || (!confirmed && credential.confirmedAt)) return 'not_enrolled';
  const secret = unseal(dataKeyFor(ctx.config), credential.secretEncrypted, userId);
  const typed = Buffer.from(code.replace(/\s/g, ''));
  const now = ctx.clock.now();
  const current = totpStep(now);
  let matched: number | undefined;
  // Every candidate step is computed and compared, so the time taken says nothing about which matched.
  for (let delta = -TOTP_POLICY.driftSteps; delta <= TOTP_POLICY.driftSteps; delta++) {
    const expected = Buffer.from(totpCode(secret, new Date((current + delta) * TOTP_POLICY.periodSeconds * 1000)));
    if (expected.length === typed.length && timingSafeEqual(expected, typed) && matched === undefined) matched = current + delta;
  }
  if (matched === undefined) return 'wrong_code';
  if (credential.lastUsedStep !== null && matched <= credential.lastUsedStep) return 'replayed';
  await tx.update(totpCredentials).set({ lastUsedStep: matched, ...(confirmed ? {} : { confirmedAt: now }) }).where(eq(totpCredentials.userId, userId));
  return 'ok';
}

/** Activates a pending authenticator with its first code; raises two_factor.totp_enrolled. */
export async function confirmTotpEnrolment(ctx: TotpContext, userId: string, code: string): Promise<{ confirmedAt: Date }> {
  return ctx.db.transaction(async (tx) => {
    const result = await checkCode(ctx, tx, userId, code, false);
    if (result === 'not_enrolled') {
      throw new AppError('conflict', 'No authenticator is waiting to be confirmed: start with POST /api/2fa/totp, add the secret to your app, then send its code here.');
    }
    if (result !== 'ok') throw new AppError('code_rejected', 'Wrong code: type the 6-digit code your authenticator app shows now for DominionTrust (check the phone\'s clock is set automatically).');
    const now = ctx.clock.now();
    await recordEvent(ctx, tx, {
      userId, type: 'two_factor.totp_enrolled', payload: { algorithm: TOTP_POLICY.algorithm, digits: TOTP_POLICY.digits, period: TOTP_POLICY.periodSeconds },
      notify: [{ type: 'two_factor_changed', values: { time: now } }],
    });
    return { confirmedAt: now };
  });
}

/** Checks an authenticator code at sign-in, in the caller's transaction; 'ok' uses up its step. */
export function checkTotpForLogin(ctx: TotpContext, tx: Queryable, userId: string, code: string): Promise<TotpCheck> {
  return checkCode(ctx, tx, userId, code, true);
}
