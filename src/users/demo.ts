// The demo users a newcomer gets on the first start of an embedded database: a customer with a
// phone number, to try codes and alerts on, and a staff account. Their passwords are random and
// returned once, for the caller to show; only their hashes are kept.
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../context.ts';
import { countUsers, createUser } from './users.ts';

export interface DemoCredential {
  username: string;
  password: string;
  isStaff: boolean;
  phoneNumber: string | null;
}

/** A plausible US mobile number (the San Francisco example libphonenumber uses), not a Twilio magic number. */
export const DEMO_PHONE_NUMBER = '+14155552671';
/** The staff demo user's: the staff console signs in with an SMS code too. */
export const DEMO_STAFF_PHONE_NUMBER = '+14155552672';

const DEMO_USERS = [
  { username: 'testuser', email: 'testuser@example.com', phone: DEMO_PHONE_NUMBER, isStaff: false },
  { username: 'admin', email: 'admin@example.com', phone: DEMO_STAFF_PHONE_NUMBER, isStaff: true },
] as const;

function randomPassword(): string {
  return randomBytes(15).toString('base64url'); // 20 characters, 120 bits
}

/**
 * Creates the demo users when the database has no user at all; returns their passwords, or an
 * empty list when there were users already. Never call it on a production (PostgreSQL) database.
 */
export async function createDemoUsers(ctx: Pick<AppContext, 'db' | 'config' | 'clock'>): Promise<DemoCredential[]> {
  if ((await countUsers(ctx.db)) > 0) return [];
  const created: DemoCredential[] = [];
  for (const demo of DEMO_USERS) {
    const password = randomPassword();
    const user = await createUser(ctx, { username: demo.username, email: demo.email, phone: demo.phone, isStaff: demo.isStaff, password });
    created.push({ username: user.username, password, isStaff: user.isStaff, phoneNumber: user.phoneNumber });
  }
  return created;
}
