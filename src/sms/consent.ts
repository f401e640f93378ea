// The SMS consent record a bank must keep: when and how a customer agreed to SMS (registration,
// a START reply, a preference in the app) and when and how they withdrew (a STOP reply, a
// preference). Append-only history; the number's current opt-out lives in phone_status, which
// STOP, START and the app's preference all change, so there is one truth and this is its story.
import { desc, eq } from 'drizzle-orm';
import type { Queryable } from '../db/connection.ts';
import { smsConsents, userProfiles } from '../db/schema.ts';

export type ConsentAction = 'granted' | 'withdrawn';
export type ConsentMethod = 'registration' | 'sms_reply' | 'preference';

export interface ConsentEntry {
  action: ConsentAction;
  method: ConsentMethod;
  detail: string;
  /** Last 4 digits of the number it was about. */
  phone: string;
  at: Date;
}

interface ConsentInput {
  phoneNumber: string;
  action: ConsentAction;
  method: ConsentMethod;
  detail: string;
  now: Date;
}

/** One entry for one customer's number. */
export async function recordConsent(db: Queryable, userId: string | null, input: ConsentInput): Promise<void> {
  await db.insert(smsConsents).values({
    userId, phoneNumber: input.phoneNumber, action: input.action, method: input.method, detail: input.detail, createdAt: input.now,
  });
}

/**
 * An entry for whoever has this number on their profile (a reply names a number, not a
 * customer); one entry without a customer when nobody has it, so the reply is on record anyway.
 */
export async function recordConsentOfNumber(db: Queryable, input: ConsentInput): Promise<void> {
  const owners = await db.select({ userId: userProfiles.userId }).from(userProfiles).where(eq(userProfiles.phoneNumber, input.phoneNumber));
  if (!owners.length) return recordConsent(db, null, input);
  for (const owner of owners) await recordConsent(db, owner.userId, input);
}

/** A customer's consent history, newest first. */
export async function consentHistory(db: Queryable, userId: string, limit = 100): Promise<ConsentEntry[]> {
  const rows = await db.select().from(smsConsents).where(eq(smsConsents.userId, userId)).orderBy(desc(smsConsents.createdAt), desc(smsConsents.seq)).limit(limit);
  return rows.map((r) => ({
    action: r.action as ConsentAction, method: r.method as ConsentMethod, detail: r.detail, phone: `***${r.phoneNumber.slice(-4)}`, at: r.createdAt,
  }));
}
