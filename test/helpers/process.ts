// Runs `dominion` commands as real child processes, for tests of start-up, shutdown and crashes.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { record } from './recorder.ts';

export const ROOT = join(import.meta.dirname, '../..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * How `npm test` makes Node start faster (the preloaded resolver, the compile cache), for children
 * to inherit: a `dominion` child loads the same 1,200 modules as its test.
 */
export function nodeStartEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['NODE_OPTIONS', 'NODE_COMPILE_CACHE'] as const) {
    const value = process.env[name];
    if (value) env[name] = value;
  }
  return env;
}

/** Environment for a child: nothing of the developer's own Twilio or database settings leaks in. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', ...nodeStartEnv() };
  return { ...env, ...extra };
}

export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startDominion(args: string[], env: Record<string, string>): RunningProcess {
  const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      record({ kind: 'cli', where: `dominion ${args.join(' ')}`, text: out });
      resolve({ code, signal });
    });
  });
  return { child, output: () => out, exited };
}

/** Waits for GET url to answer `status`; fails with the process output after timeoutMs. */
export async function waitForHttp(url: string, proc: RunningProcess, status = 200, timeoutMs = 60_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.status === status) return res;
    } catch {
      // not listening yet
    }
    if (proc.child.exitCode !== null) throw new Error(`process exited (${proc.child.exitCode}) before ${url} answered:\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs a `dominion` command to its end, with `input` on its standard input (e.g. a password for --password-stdin). */
export async function runDominion(args: string[], env: Record<string, string>, input = ''): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin.end(input);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  record({ kind: 'cli', where: `dominion ${args.join(' ')}`, text: out });
  return { code, output: out };
}
