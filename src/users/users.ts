// Customers and staff: creating them, finding them, and the phone number on their profile that
// codes and alerts go to. Every phone number is stored normalised (E.164) or not at all.
import { count, eq } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { userProfiles, users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { normalisePhoneNumber } from '../sms/phone.ts';
import { phonePolicyFor } from '../sms/phone-policy.ts';
import { checkPasswordStrength, hashPassword } from './passwords.ts';

/** What may be shown of a user: never the password hash. */
export interface UserSummary {
  id: string;
  username: string;
  email: string | null;
  isStaff: boolean;
  isActive: boolean;
  /** E.164, or null when the user has none. */
  phoneNumber: string | null;
  phoneVerifiedAt: Date | null;
}

export interface NewUser {
  username: string;
  password: string;
  email?: string;
  /** As typed; normalised here. */
  phone?: string;
  isStaff?: boolean;
}

type UsersContext = Pick<AppContext, 'db' | 'config' | 'clock'>;

// Django's rule, so usernames carried over from the old system stay valid.
const USERNAME = /^[\w.@+-]{1,150}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function checkUsername(username: string): void {
  if (!USERNAME.test(username)) {
    throw new AppError('validation_failed', `Invalid username "${username}": use 1-150 letters, digits and @ . + - _ only.`);
  }
}

/** Normalises a phone number as this deployment does everywhere (region, allowed countries). */
export function normaliseUserPhone(config: AppContext['config'], input: string): string {
  return normalisePhoneNumber(input, phonePolicyFor(config)).e164;
}

/** A new user's row values, checked and with the password hashed: ready for insertUser. */
export interface CheckedNewUser {
  username: string;
  email: string | null;
  phoneNumber: string | null;
  passwordHash: string;
  isStaff: boolean;
}

/** Checks a new user's username, email, phone and password, and hashes the password. */
export async function checkNewUser(config: AppContext['config'], input: NewUser): Promise<CheckedNewUser> {
  checkUsername(input.username);
  const email = input.email?.trim() || null;
  if (email !== null && !EMAIL.test(email)) throw new AppError('validation_failed', `Invalid email address "${email}".`);
  const phoneNumber = input.phone?.trim() ? normaliseUserPhone(config, input.phone) : null;
  checkPasswordStrength(input.password, { username: input.username });
  return { username: input.username, email, phoneNumber, passwordHash: await hashPassword(input.password, config.security.passwordHashCost), isStaff: input.isStaff ?? false };
}

/**
 * Inserts a checked user and their profile in the caller's transaction. Throws AppError 'conflict'
 * when the username or email is taken. An inactive user cannot sign in until activated.
 */
export async function insertUser(tx: Queryable, user: CheckedNewUser, options: { isActive: boolean; now: Date }): Promise<UserSummary> {
  if (await findUserByUsername(tx, user.username)) {
    throw new AppError('conflict', `A user named "${user.username}" already exists.`);
  }
  if (user.email !== null && (await tx.select({ id: users.id }).from(users).where(eq(users.email, user.email))).length) {
    throw new AppError('conflict', `Another user already has the email address ${user.email}.`);
  }
  const [row] = await tx
    .insert(users)
    .values({ username: user.username, email: user.email, passwordHash: user.passwordHash, isStaff: user.isStaff, isActive: options.isActive, createdAt: options.now })
    .returning();
  if (!row) throw new Error('insert returned no row');
  await tx.insert(userProfiles).values({ userId: row.id, phoneNumber: user.phoneNumber, updatedAt: options.now });
  return { id: row.id, username: row.username, email: row.email, isStaff: row.isStaff, isActive: row.isActive, phoneNumber: user.phoneNumber, phoneVerifiedAt: null };
}

/** Creates an active user (staff and CLI path; customers register through src/users/registration.ts). */
export async function createUser(ctx: UsersContext, input: NewUser): Promise<UserSummary> {
  const user = await checkNewUser(ctx.config, input);
  const now = ctx.clock.now();
  return ctx.db.transaction((tx) => insertUser(tx, user, { isActive: true, now }));
}

/** The user and their profile's phone number, or undefined. */
export async function findUserByUsername(db: Queryable, username: string): Promise<UserSummary | undefined> {
  return findUser(db, eq(users.username, username));
}

export async function findUserById(db: Queryable, id: string): Promise<UserSummary | undefined> {
  return findUser(db, eq(users.id, id));
}

async function findUser(db: Queryable, where: ReturnType<typeof eq>): Promise<UserSummary | undefined> {
  const [row] = await db
    .select({
      id: users.id,
      username: users.username,
      email: users.email,
      isStaff: users.isStaff,
      isActive: users.isActive,
      phoneNumber: userProfiles.phoneNumber,
      phoneVerifiedAt: userProfiles.phoneVerifiedAt,
    })
    .from(users)
    .leftJoin(userProfiles, eq(userProfiles.userId, users.id))
    .where(where);
  return row ? { ...row, phoneNumber: row.phoneNumber ?? null, phoneVerifiedAt: row.phoneVerifiedAt ?? null } : undefined;
}

/** Like findUserByUsername, but an unknown username is an error telling how to create it. */
export async function requireUserByUsername(db: Queryable, username: string): Promise<UserSummary> {
  const user = await findUserByUsername(db, username);
  if (!user) {
    throw new AppError(
      'not_found',
      `Unknown user "${username}": no user has this username. Create it with \`npx dominion createuser ${username} --phone +14155552671\`` +
        ' (on a fresh embedded database, `npm start` creates the demo users testuser and admin).',
    );
  }
  return user;
}

/** The user's phone number, or AppError 'no_phone_number' saying how to add one. */
export function requirePhoneNumber(user: UserSummary): string {
  if (!user.phoneNumber) {
    throw new AppError(
      'no_phone_number',
      `User has no phone number: ${user.username} has no phone number on their profile. Add one with ` +
        `\`npx dominion users set-phone ${user.username} +14155552671\` or on the staff console's profile page, /admin/accounts/userprofile/ on this server.`,
    );
  }
  return user.phoneNumber;
}

export async function countUsers(db: Queryable): Promise<number> {
  const [row] = await db.select({ n: count() }).from(users);
  return row?.n ?? 0;
}
