// Passwords: the strength rule, and hashing with scrypt (memory-hard) in a PHC-like string
// `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` that carries its own parameters, so they can be raised
// later without invalidating stored hashes. Verification is constant-time.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { AppError } from '../errors.ts';

/** The shortest password accepted: NIST SP 800-63B asks at least 8; a bank asks more. */
export const MIN_PASSWORD_LENGTH = 12;
/** Longer inputs only cost hashing time; nobody types more. */
export const MAX_PASSWORD_LENGTH = 256;

/** N = 2^15, r = 8, p = 3: one of OWASP's equivalent scrypt minimums (Password Storage Cheat Sheet); 32 MiB per hash. */
const DEFAULT_PARAMS = { ln: 15, r: 8, p: 3 } as const;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

interface ScryptParams {
  ln: number;
  r: number;
  p: number;
}

function scrypt(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.ln;
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 16 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCb(password.normalize('NFKC'), salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/**
 * Refuses a password the bank will not store, with a message for the person choosing it.
 * Throws AppError 'weak_password'.
 */
export function checkPasswordStrength(password: string, context: { username?: string } = {}): void {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) {
    throw new AppError('weak_password', `Password too short: it has ${length} characters and needs at least ${MIN_PASSWORD_LENGTH}. A few unrelated words make a long password that is easy to remember.`);
  }
  if (length > MAX_PASSWORD_LENGTH) {
    throw new AppError('weak_password', `Password too long: at most ${MAX_PASSWORD_LENGTH} characters.`);
  }
  if (new Set(password).size < 4) {
    throw new AppError('weak_password', 'Password too simple: it repeats the same few characters. Use a mix, or a few unrelated words.');
  }
  if (context.username && password.toLowerCase().includes(context.username.toLowerCase())) {
    throw new AppError('weak_password', 'Password too easy to guess: it contains the username.');
  }
}

/** Hashes a password for storage; `cost` is log2 N (config.security.passwordHashCost). */
export async function hashPassword(password: string, cost: number = DEFAULT_PARAMS.ln): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const params = { ...DEFAULT_PARAMS, ln: cost };
  const key = await scrypt(password, salt, params);
  const { ln, r, p } = params;
  return `$scrypt$ln=${ln},r=${r},p=${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

function parseHash(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | undefined {
  const match = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(stored);
  if (!match) return undefined;
  const [, ln, r, p, salt, key] = match;
  const params = { ln: Number(ln), r: Number(r), p: Number(p) };
  // Refuse parameters that would let a tampered row exhaust memory or CPU.
  if (params.ln < 10 || params.ln > 20 || params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16) return undefined;
  return { params, salt: Buffer.from(salt ?? '', 'base64url'), key: Buffer.from(key ?? '', 'base64url') };
}

/** True when the password matches the stored hash. Constant-time; false for an unreadable hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed || parsed.key.length !== KEY_LENGTH) return false;
  const actual = await scrypt(password, parsed.salt, parsed.params);
  return timingSafeEqual(actual, parsed.key);
}

/** True when a stored hash uses weaker parameters than today's: rehash at the next login. */
export function needsRehash(stored: string): boolean {
  const parsed = parseHash(stored);
  return !parsed || parsed.params.ln < DEFAULT_PARAMS.ln || parsed.params.r < DEFAULT_PARAMS.r || parsed.params.p < DEFAULT_PARAMS.p;
}
