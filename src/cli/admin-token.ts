// The bearer token the running server accepts from the CLI on its admin routes. The server writes
// a fresh one to DATA_DIR/admin.token (readable by its owner only) at every start; whoever can
// read the data directory can open the database anyway, so the token grants nothing more.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

export const ADMIN_TOKEN_FILE = 'admin.token';

export function writeAdminToken(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(32).toString('base64url');
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  rmSync(path, { force: true }); // a file left with looser permissions is replaced, not reused
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600); // the umask cannot have widened it, but make it explicit
  return token;
}

export function readAdminToken(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, ADMIN_TOKEN_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function removeAdminToken(dataDir: string): void {
  rmSync(join(dataDir, ADMIN_TOKEN_FILE), { force: true });
}
