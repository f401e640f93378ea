// The `dominion` CLI as an operator runs it, in child processes: --help on every command, exit
// codes, no secret and no stack trace in the output, and the newcomer's path: `npm start` in one
// terminal, `test_twilio_sms --test-2fa testuser` in another, the code in the same inbox.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TEST_ENGINE } from '../helpers/database.ts';
import { record, recordLogs } from '../helpers/recorder.ts';
import { createTestContext, eventually, TEST_AUTH_TOKEN, testEnv, type TestContext } from '../helpers/context.ts';
import { nodeStartEnv } from '../helpers/process.ts';

const CLI = resolve(import.meta.dirname, '../../src/cli.ts');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

let t: TestContext;
let dir: string;

before(async () => {
  t = await createTestContext();
  dir = mkdtempSync(join(tmpdir(), 'dominion-cli-'));
});

after(async () => {
  await t.close();
  recordLogs(dir);
  rmSync(dir, { recursive: true, force: true });
});

/** The environment of an operator's shell: this test's simulator, and the engine of the run. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const database: Record<string, string> = TEST_ENGINE === 'postgres' && t.database.url ? { DATABASE_URL: t.database.url } : {};
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...nodeStartEnv(), ...testEnv(t.sim.url, dir, { PORT: '0', LOG_LEVEL: 'info', ...database, ...extra }) };
}

function start(args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
  // cwd is a directory without .env, so only the environment given here counts.
  return spawn(process.execPath, [CLI, ...args], { cwd: dir, env: env(extraEnv), stdio: ['pipe', 'pipe', 'pipe'] });
}

function cli(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  const child = start(args, options.env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin!.end(options.input ?? '');
  return new Promise((done) => child.on('close', (code) => {
    record({ kind: 'cli', where: `dominion ${args.join(' ')}`, text: stdout + stderr });
    done({ code, stdout, stderr });
  }));
}

describe('--help', () => {
  const commands = [
    [], ['start'], ['serve'], ['worker'], ['migrate'], ['twilio-sim'], ['test_twilio_sms'], ['test-twilio-sms'],
    ['createuser'], ['users'], ['users', 'set-phone'],
  ];
  it('prints usage and exits 0 for every command', async () => {
    const results = await Promise.all(commands.map((command) => cli([...command, '--help'])));
    results.forEach((result, i) => {
      const name = commands[i]!.join(' ') || 'dominion';
      assert.equal(result.code, 0, `${name}: ${result.stderr}`);
      assert.match(result.stdout, /^Usage: dominion/, name);
    });
    const guide = results[6]!.stdout;
    for (const flag of ['--check-setup', '--account-info', '--phone-numbers', '--phone <number>', '--test-2fa <username>', '--voice', '--test-notification <username>', '--wait', '--json']) {
      assert.ok(guide.includes(flag), `test_twilio_sms --help lists ${flag}`);
    }
    assert.match(results[8]!.stdout, /--password-stdin/);
  });

  it('exits 2 on an unknown flag', async () => {
    const result = await cli(['test_twilio_sms', '--no-such-flag']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown option '--no-such-flag'/);
  });
});

describe('test_twilio_sms --check-setup in a child process', () => {
  it('"Invalid credentials" for a malformed Account SID: exit 3, as JSON', async () => {
    const result = await cli(['test_twilio_sms', '--check-setup', '--json'], { env: { TWILIO_ACCOUNT_SID: 'ACnot-a-sid' } });
    assert.equal(result.code, 3, result.stderr);
    const report = JSON.parse(result.stdout) as { ok: boolean; exitCode: number; checks: { title: string; code: string; ok: boolean }[] };
    assert.deepEqual([report.ok, report.exitCode], [false, 3]);
    assert.deepEqual(report.checks.map((c) => [c.title, c.code]), [['Invalid credentials', 'invalid_credentials']]);
  });

  it('"Authentication Error" for a wrong auth token: exit 4, the fix, no token, no stack trace', async () => {
    const wrong = 'wrong-auth-token-0123456789abcdef';
    const result = await cli(['test_twilio_sms', '--check-setup'], { env: { TWILIO_AUTH_TOKEN: wrong } });
    assert.equal(result.code, 4, result.stdout + result.stderr);
    assert.match(result.stdout, /❌ Authentication Error: Twilio refused the credentials: Twilio error 20003 \(Permission Denied \(Authenticate\)\)/);
    assert.match(result.stdout, /\n {3}Fix: Twilio rejected the Account SID \/ Auth Token/);
    assert.match(result.stdout, /❌ 1 of \d+ checks failed.*Authentication Error \(exit code 4\)\./);
    for (const output of [result.stdout, result.stderr]) {
      assert.ok(!output.includes(wrong) && !output.includes(TEST_AUTH_TOKEN), 'no token in the output');
      assert.ok(!/\n\s+at /.test(output), 'no stack trace');
    }
  });
});

describe('a port already in use', () => {
  it('names the port and the variable that moves it: exit 3, no stack trace, nothing left running', async () => {
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    const port = (taken.address() as AddressInfo).port;
    try {
      const result = await cli(['start'], { env: { PORT: String(port), DATA_DIR: join(dir, 'port-test') } });
      assert.equal(result.code, 3, result.stdout + result.stderr);
      assert.match(result.stderr, new RegExp(`❌ Port ${port} \\(PORT\\), wanted by the HTTP server, is already in use: .* set PORT to a free port\\.`));
      assert.ok(!/\n\s+at /.test(result.stderr), 'no stack trace');
      assert.equal(existsSync(join(dir, 'port-test', 'admin.token')), false, 'no token left behind');
    } finally {
      taken.close();
    }
  });
});

describe('npm start in one terminal, the CLI in another', () => {
  let server: ChildProcess;
  let serverOut = '';

  before(async () => {
    server = start(['start']);
    server.stdout!.on('data', (chunk: Buffer) => (serverOut += chunk.toString()));
    server.stderr!.on('data', (chunk: Buffer) => (serverOut += chunk.toString()));
    await eventually(() => (serverOut.includes('"msg":"worker started"') ? true : undefined), 60_000, `the server to start:\n${serverOut}`);
    if (TEST_ENGINE === 'postgres') {
      // No demo users on PostgreSQL: the operator creates one.
      const created = await cli(['createuser', 'testuser', '--phone', '415-555-2671', '--password-stdin'], { input: 'correct horse battery staple\n' });
      assert.equal(created.code, 0, created.stderr);
    }
  });

  after(async () => {
    if (server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((done) => server.once('close', done));
    }
  });

  it('creates the demo users on a new embedded database and prints their passwords once, never to the log', async (test) => {
    if (TEST_ENGINE === 'postgres') return test.skip('demo users are for the embedded database only');
    await eventually(() => (serverOut.includes('Try it:') ? true : undefined), 10_000, 'the demo users');
    const passwords = [...serverOut.matchAll(/^ {2}(testuser|admin) +password (\S+)/gm)].map((m) => [m[1], m[2]!]);
    assert.deepEqual(passwords.map(([name]) => name), ['testuser', 'admin']);
    const logLines = serverOut.split('\n').filter((line) => line.startsWith('{')).join('\n');
    const logFile = readFileSync(join(dir, 'logs', 'dominion.log'), 'utf8');
    for (const [, password] of passwords) assert.ok(!logLines.includes(password!) && !logFile.includes(password!), 'passwords are never logged');
    // The staff demo user has a phone, so the console's sign-in (password, then SMS code) works out of the box.
    const consoleUrl = /staff console +(http:\/\/\S+)\/admin/.exec(serverOut)?.[1];
    assert.ok(consoleUrl, serverOut);
    assert.match(serverOut, new RegExp(`API docs +${consoleUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/docs`));
    const adminPassword = passwords.find(([name]) => name === 'admin')![1];
    const login = await fetch(`${consoleUrl}/api/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: adminPassword }),
    });
    assert.equal(login.status, 200, await login.clone().text());
    assert.equal(((await login.json()) as { destination: string }).destination, '***2672');
    await eventually(() => t.sim.messages().find((m) => m.to === '+14155552672' && /login code is/.test(m.body)), 10_000, 'the staff login code');
  });

  it('--test-2fa testuser sends the code into the same inbox; the code never shows', async () => {
    const before = t.sim.messages().length;
    const result = await cli(['test_twilio_sms', '--test-2fa', 'testuser', '--json']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const report = JSON.parse(result.stdout) as { ok: boolean; via: string; messages: { to: string; sid: string }[] };
    assert.equal(report.via, TEST_ENGINE === 'pglite' ? 'server' : 'local');
    const sms = await eventually(() => t.sim.messages().find((m) => m.sid === report.messages[0]?.sid), 10_000, 'the code in the inbox');
    assert.equal(t.sim.messages().length, before + 1);
    assert.equal(sms.to, '+14155552671');
    const code = /code is (\d{6})/.exec(sms.body)?.[1];
    assert.ok(code);
    assert.ok(!result.stdout.includes(code) && !result.stderr.includes(code));
    assert.equal(report.messages[0]?.to, '***2671');
  });

  it('--test-2fa testuser --voice places the code by call through the same path; the code never shows', async () => {
    const before = t.sim.calls().length;
    const result = await cli(['test_twilio_sms', '--test-2fa', 'testuser', '--voice', '--json']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const report = JSON.parse(result.stdout) as { ok: boolean; messages: { to: string; sid: string; encoding: string }[] };
    assert.equal(report.messages[0]?.encoding, 'voice');
    const call = await eventually(() => t.sim.calls().find((c) => c.sid === report.messages[0]?.sid), 10_000, 'the call in the inbox');
    assert.equal(t.sim.calls().length, before + 1);
    assert.equal(call.to, '+14155552671');
    const digits = call.spoken.map((line) => /^(\d(?:, \d){5})\.$/.exec(line)?.[1]).find(Boolean)?.replace(/, /g, '');
    assert.ok(digits);
    assert.ok(!result.stdout.includes(digits) && !result.stderr.includes(digits));
    assert.equal(report.messages[0]?.to, '***2671');
  });

  it('createuser and users set-phone work while the server runs', async () => {
    const created = await cli(['createuser', 'frank', '--email', 'frank@example.com', '--password-stdin'], { input: 'another long passphrase\n' });
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /✅ Created user frank \(customer, email frank@example\.com, no phone number\)\./);
    const noPhone = await cli(['test_twilio_sms', '--test-notification', 'frank']);
    assert.equal(noPhone.code, 6);
    assert.match(noPhone.stdout, /❌ User has no phone number: frank has no phone number/);
    const set = await cli(['users', 'set-phone', 'frank', '(415) 555-2676']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /frank's phone number is now \+14155552676/);
    const invalid = await cli(['users', 'set-phone', 'frank', '12345']);
    assert.equal(invalid.code, 7);
    assert.match(invalid.stderr, /^❌ Invalid Phone Number: "12345" is too short\. Use E\.164 format/);
    const weak = await cli(['createuser', 'gina', '--password-stdin'], { input: 'short\n' });
    assert.equal(weak.code, 2);
    assert.match(weak.stderr, /Password too short: it has 5 characters and needs at least 12/);
    const noTerminal = await cli(['createuser', 'gina']);
    assert.equal(noTerminal.code, 2);
    assert.match(noTerminal.stderr, /--password-stdin/);
  });

  it('notifications templates works while the server runs', async () => {
    const result = await cli(['notifications', 'templates', '--type', 'welcome', '--channel', 'sms', '--json']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const parsed = JSON.parse(result.stdout) as { ok: boolean; templates: { type: string; language: string }[] };
    assert.ok(parsed.ok);
    assert.deepEqual([...new Set(parsed.templates.map((tpl) => tpl.type))], ['welcome']);
    assert.ok(parsed.templates.some((tpl) => tpl.language === 'es'));
  });

  it('stops on SIGTERM and leaves no lock or token behind', async () => {
    server.kill('SIGTERM');
    const code = await new Promise((done) => server.once('close', done));
    assert.equal(code, 0, serverOut.slice(-2000));
    assert.ok(!existsSync(join(dir, 'data', 'dominion.lock')));
    assert.ok(!existsSync(join(dir, 'data', 'admin.token')));
  });
});
