// Passwords: the strength rule, and hashing with argon2id (OWASP's first choice; node:crypto's own)
// in the PHC string `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` that carries its parameters, so
// they can be raised later without invalidating stored hashes. Hashes made before argon2id,
// `$scrypt$ln=15,r=8,p=3$<salt>$<hash>`, still verify and are replaced at the next sign-in
// (needsRehash). Verification is constant-time.
import { argon2 as argon2Cb, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { AppError } from '../errors.ts';

/** The shortest password accepted: NIST SP 800-63B asks at least 8; a bank asks more. */
export const MIN_PASSWORD_LENGTH = 12;
/** Longer inputs only cost hashing time; nobody types more. */
export const MAX_PASSWORD_LENGTH = 256;

/**
 * The cost setting (config.security.passwordHashCost) at which new hashes are OWASP's argon2id
 * minimum, m = 19 MiB, t = 2, p = 1 (Password Storage Cheat Sheet): as strong as scrypt N=2^15,
 * r=8, p=3 and 3-4 times cheaper in CPU on this project's machines. Each step of the setting
 * doubles (or halves) the memory: 10 gives 608 KiB, the test suite's fast hashes.
 */
const DEFAULT_COST = 15;
const ARGON2_MEMORY_KIB_AT_DEFAULT = 19_456;
const ARGON2_PASSES = 2;
const ARGON2_PARALLELISM = 1;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

/** Memory of a new argon2id hash, in KiB, at a cost setting. */
export function argon2MemoryKib(cost: number): number {
  return Math.round(ARGON2_MEMORY_KIB_AT_DEFAULT * 2 ** (cost - DEFAULT_COST));
}

interface Argon2Params {
  m: number;
  t: number;
  p: number;
}

interface ScryptParams {
  ln: number;
  r: number;
  p: number;
}

type Parsed =
  | { kind: 'argon2id'; params: Argon2Params; salt: Buffer; key: Buffer }
  | { kind: 'scrypt'; params: ScryptParams; salt: Buffer; key: Buffer };

function argon2id(password: string, salt: Buffer, params: Argon2Params): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    argon2Cb('argon2id', {
      message: password.normalize('NFKC'), nonce: salt, memory: params.m, passes: params.t, parallelism: params.p, tagLength: KEY_LENGTH,
    }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

function scrypt(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.ln;
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 16 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCb(password.normalize('NFKC'), salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** PHC strings use base64 without padding. */
const b64 = (bytes: Buffer): string => bytes.toString('base64').replace(/=+$/, '');

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

/** Hashes a password for storage at a cost setting (config.security.passwordHashCost). */
export async function hashPassword(password: string, cost: number = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const params = { m: argon2MemoryKib(cost), t: ARGON2_PASSES, p: ARGON2_PARALLELISM };
  const key = await argon2id(password, salt, params);
  return `$argon2id$v=19$m=${params.m},t=${params.t},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

function parseHash(stored: string): Parsed | undefined {
  const argon = /^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$/.exec(stored);
  if (argon) {
    const [, m, t, p, salt, key] = argon;
    const params = { m: Number(m), t: Number(t), p: Number(p) };
    // Refuse parameters that would let a tampered row exhaust memory or CPU (the setting's
    // highest, 20, is 608 MiB).
    if (params.p < 1 || params.p > 4 || params.m < 8 * params.p || params.m > argon2MemoryKib(20) || params.t < 1 || params.t > 10) return undefined;
    return { kind: 'argon2id', params, salt: Buffer.from(salt ?? '', 'base64'), key: Buffer.from(key ?? '', 'base64') };
  }
  const match = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(stored);
  if (!match) return undefined;
  const [, ln, r, p, salt, key] = match;
  const params = { ln: Number(ln), r: Number(r), p: Number(p) };
  if (params.ln < 10 || params.ln > 20 || params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16) return undefined;
  return { kind: 'scrypt', params, salt: Buffer.from(salt ?? '', 'base64url'), key: Buffer.from(key ?? '', 'base64url') };
}

/** True when the password matches the stored hash (argon2id, or scrypt from before). Constant-time; false for an unreadable hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed || parsed.key.length !== KEY_LENGTH) return false;
  const actual = parsed.kind === 'argon2id' ? await argon2id(password, parsed.salt, parsed.params) : await scrypt(password, parsed.salt, parsed.params);
  return timingSafeEqual(actual, parsed.key);
}

/**
 * True when a stored hash is not what hashPassword makes today at this cost setting: a scrypt
 * hash from before argon2id, or argon2id with less memory or fewer passes. The sign-in that has
 * just checked the password replaces it.
 */
export function needsRehash(stored: string, cost: number = DEFAULT_COST): boolean {
  const parsed = parseHash(stored);
  if (!parsed || parsed.kind !== 'argon2id') return true;
  return parsed.params.m < argon2MemoryKib(cost) || parsed.params.t < ARGON2_PASSES;
}
