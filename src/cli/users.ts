// `dominion createuser` and `dominion users set-phone`: accounts and the phone numbers codes go to.
// Done by the running server when it owns the embedded database, else in this process. The
// domain and database modules are imported inside the actions, so `--help` answers at once.
import type { Command } from 'commander';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import type { NewUser, UserSummary } from '../users/users.ts';
import { checkPasswordStrength } from '../users/passwords.ts';
import { readHiddenLine, readPasswordFromStdin } from './password-input.ts';

const SERVER_TIMEOUT_MS = 30_000;

interface CreateFlags {
  email?: string;
  phone?: string;
  staff?: boolean;
  passwordStdin?: boolean;
  json?: boolean;
}

/** Asks twice at a terminal, as Django's createsuperuser does, until the password is acceptable. */
async function promptPassword(username: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const password = await readHiddenLine('Password: ');
    try {
      checkPasswordStrength(password, { username });
    } catch (error) {
      if (!(error instanceof AppError) || attempt >= 3) throw error;
      process.stderr.write(`❌ ${error.userMessage}\n`);
      continue;
    }
    if ((await readHiddenLine('Password (again): ')) === password) return password;
    if (attempt >= 3) throw new AppError('validation_failed', 'The two passwords did not match.');
    process.stderr.write('❌ The two passwords did not match; try again.\n');
  }
}

async function readPassword(username: string, flags: CreateFlags): Promise<string> {
  if (flags.passwordStdin) return readPasswordFromStdin();
  if (!process.stdin.isTTY) {
    throw new AppError('validation_failed',
      'No terminal to type the password in. Pipe it instead: printf \'%s\\n\' "$PASSWORD" | npx dominion createuser ' + `${username} --password-stdin`);
  }
  return promptPassword(username);
}

/** Runs on the server that owns the embedded database, or here. */
async function perform<T>(path: string, body: unknown, local: (ctx: AppContext) => Promise<T>): Promise<T> {
  const { loadConfig } = await import('../config.ts');
  const { performCommand } = await import('./server-client.ts');
  const result = await performCommand(loadConfig(), { path, body, timeoutMs: SERVER_TIMEOUT_MS }, async (ctx) => ({ user: await local(ctx) }));
  return result.user;
}

function summarise(user: Pick<UserSummary, 'username' | 'isStaff' | 'email' | 'phoneNumber'>): string {
  const parts = [user.isStaff ? 'staff' : 'customer', user.email ? `email ${user.email}` : null, user.phoneNumber ? `phone ${user.phoneNumber}` : 'no phone number'];
  return `${user.username} (${parts.filter(Boolean).join(', ')})`;
}

export function usersCommands(program: Command): void {
  program
    .command('createuser')
    .description('create a user (customer, or staff with --staff); the password is asked with hidden typing, or read with --password-stdin')
    .argument('<username>', 'letters, digits and @ . + - _ (as in Django)')
    .option('--email <address>', 'email address')
    .option('--phone <number>', 'mobile number for codes and alerts (E.164, e.g. +14155552671; national forms are normalised)')
    .option('--staff', 'a bank employee (admin access)')
    .option('--password-stdin', 'read the password from standard input (first line) instead of asking')
    .option('--json', 'print the created user as JSON')
    .addHelpText('after', `\nPasswords need at least 12 characters. Example for scripts:\n  printf '%s\\n' "$PASSWORD" | npx dominion createuser alice --phone +14155552671 --password-stdin`)
    .action(async (username: string, flags: CreateFlags) => {
      const { checkUsername, createUser } = await import('../users/users.ts');
      checkUsername(username);
      const password = await readPassword(username, flags);
      checkPasswordStrength(password, { username });
      const input: NewUser = { username, password, email: flags.email, phone: flags.phone, isStaff: flags.staff ?? false };
      const user = await perform('/users', input, (ctx) => createUser(ctx, input));
      console.log(flags.json ? JSON.stringify({ ok: true, user }) : `✅ Created user ${summarise(user)}.`);
    });

  const users = program.command('users').description('manage users');
  users
    .command('set-phone')
    .description("change a user's mobile number, where login codes and alerts go: the new number is unverified, the old number and the email are told, the change is audited, and large transfers and new payees wait PHONE_CHANGE_COOLING_OFF")
    .argument('<username>', 'the user')
    .argument('<number>', 'E.164, e.g. +14155552671, or a national form such as "(415) 555-2671"; "none" removes it')
    .option('--json', 'print the user as JSON')
    .action(async (username: string, number: string, flags: { json?: boolean }) => {
      const { setPhoneNumber } = await import('../users/phone-number.ts');
      const phone = number.trim().toLowerCase() === 'none' ? null : number;
      const user = await perform('/users/set-phone', { username, phone }, (ctx) => setPhoneNumber(ctx, { username }, phone, { kind: 'cli' }));
      const { loadConfig } = await import('../config.ts');
      const { profilePageUrl } = await import('../users/profile-page.ts');
      const page = profilePageUrl(loadConfig(), user.id);
      const what = user.phoneNumber ? `is now ${user.phoneNumber} (${user.phoneVerifiedAt ? 'verified' : 'not verified yet: the user confirms it with a code'})` : 'was removed';
      console.log(flags.json ? JSON.stringify({ ok: true, user, profilePage: page }) : `✅ ${user.username}'s phone number ${what}. The old number and the email were told; the change is in the audit log. Profile: ${page}`);
    });
}
