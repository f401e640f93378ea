// A small disk a test can fill: a tmpfs mounted for it (root only), filled with a filler file.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';

/** Mounts a tmpfs of `sizeMiB` at `dir`; returns why it could not, if it could not. */
export function mountTmpfs(dir: string, sizeMiB: number): string | undefined {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `cannot mount a tmpfs here (${String((error as { stderr?: Buffer }).stderr ?? error).trim()}); this test needs root`;
  }
}

export function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
}

/** Writes a filler file until the disk refuses; returns its size. `leave` bytes are given back. */
export function fillDisk(file: string, leave = 0): number {
  const fd = openSync(file, 'w');
  let size = 0;
  try {
    for (const chunk of [Buffer.alloc(1024 * 1024), Buffer.alloc(4096), Buffer.alloc(512)]) {
      try {
        for (;;) size += writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
  if (leave) execFileSync('truncate', ['-s', String(size - leave), file]);
  return size - leave;
}
