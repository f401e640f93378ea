// A friendlier first start: at a terminal, log lines on stdout are readable (pino-pretty); piped,
// they are JSON lines; the log file is JSON either way. A real pseudo-terminal (`script`) runs a
// process that logs, so the decision is the one the process makes from its own stdout.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { stdoutFormat } from '../src/logging.ts';
import { ROOT } from './helpers/process.ts';

const SCRIPT = `
import { createLogger, flushLogger } from '${join(ROOT, 'src/logging.ts')}';
console.log('BANNER first');
const logger = createLogger({ level: 'info', logDir: process.argv[2], stdout: true, secrets: ['super-secret-token'] });
logger.info({ to: '+14155552671', token: 'super-secret-token' }, 'sms accepted by provider');
await flushLogger(logger);
`;

function run(tty: boolean): { stdout: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dominion-tty-'));
  try {
    writeFileSync(join(dir, 'log-lines.ts'), SCRIPT);
    const command = `'${process.execPath}' '${join(dir, 'log-lines.ts')}' '${dir}'`;
    const result = tty
      ? spawnSync('script', ['-qec', command, '/dev/null'], { cwd: ROOT, encoding: 'utf8' })
      : spawnSync('sh', ['-c', command], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    return { stdout: result.stdout, file: readFileSync(join(dir, 'dominion.log'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('log format on stdout', () => {
  it('is pretty only for a terminal', () => {
    assert.equal(stdoutFormat(true), 'pretty');
    assert.equal(stdoutFormat(false), 'json');
    assert.equal(stdoutFormat(undefined), 'json');
  });

  it('at a terminal: readable lines after the banner, secrets and numbers still hidden; the file stays JSON', () => {
    const { stdout, file } = run(true);
    const text = stripVTControlCharacters(stdout);
    assert.ok(text.indexOf('BANNER first') < text.indexOf('sms accepted by provider'), text);
    assert.match(text, /INFO.*sms accepted by provider/);
    assert.doesNotMatch(text, /"level":30/);
    assert.doesNotMatch(text, /super-secret-token|4155552671/);
    const line = JSON.parse(file.trim()) as { msg: string; level: number };
    assert.deepEqual([line.msg, line.level], ['sms accepted by provider', 30]);
  });

  it('piped: JSON lines on stdout, after the banner', () => {
    const { stdout } = run(false);
    const [banner, json] = stdout.trim().split('\n');
    assert.equal(banner, 'BANNER first');
    const line = JSON.parse(json!) as { msg: string; to: string };
    assert.equal(line.msg, 'sms accepted by provider');
    assert.equal(line.to, '***2671');
  });
});
