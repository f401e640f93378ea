// The data key, and sealing small secrets with it (AES-256-GCM) before they are stored: TOTP
// secrets must be readable by the server to check codes, so they are encrypted, not hashed.
// With DATABASE_URL the key is DATA_ENCRYPTION_KEY (config refuses to start without it: every
// process must share one key); on the embedded database a key is generated once into DATA_DIR,
// readable by its owner only, like the admin token.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';

export const DATA_KEY_FILE = 'data-encryption.key';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const FORMAT = 'v1';

const generated = new Map<string, Buffer>();

/** The key secrets are sealed with; creates DATA_DIR's key on first use on the embedded database. */
export function dataKeyFor(config: Pick<Config, 'dataEncryptionKey' | 'databaseUrl' | 'dataDir'>): Buffer {
  if (config.dataEncryptionKey) return config.dataEncryptionKey;
  if (config.databaseUrl) {
    throw new AppError('config_invalid', 'DATA_ENCRYPTION_KEY is not set: it is required with DATABASE_URL. Make one with `openssl rand -base64 32`.');
  }
  const known = generated.get(config.dataDir);
  if (known) return known;
  const key = readOrCreateKeyFile(join(config.dataDir, DATA_KEY_FILE), config.dataDir);
  generated.set(config.dataDir, key);
  return key;
}

function readOrCreateKeyFile(path: string, dataDir: string): Buffer {
  try {
    return decodeKeyFile(readFileSync(path, 'utf8'), path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(KEY_BYTES);
  try {
    // 'wx': two processes starting at once never overwrite each other's key; the loser reads the winner's.
    writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return decodeKeyFile(readFileSync(path, 'utf8'), path);
  }
}

function decodeKeyFile(text: string, path: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES) {
    throw new AppError('config_invalid', `The data key in ${path} is not 32 bytes of base64: restore it from a backup (secrets sealed with it cannot be read without it).`);
  }
  return key;
}

/**
 * Encrypts `plain`, bound to `context` (e.g. the user id), so a sealed value copied onto another
 * row does not open. Format: v1.<iv>.<ciphertext>.<tag>, base64url.
 */
export function seal(key: Buffer, plain: Buffer, context: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return [FORMAT, iv, body, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
}

/** Decrypts what seal made for the same context; throws when the key or context differs or it was altered. */
export function unseal(key: Buffer, sealed: string, context: string): Buffer {
  const [format, iv, body, tag] = sealed.split('.');
  if (format !== FORMAT || !iv || body === undefined || !tag) throw new Error('not a sealed value');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
}
