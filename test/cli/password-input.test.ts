// Password entry for createuser. A real terminal cannot run in a test, so the hidden prompt reads
// from a stream that records the raw-mode switches a terminal would get; --password-stdin reads
// a real pipe.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { AppError } from '../../src/errors.ts';
import { readHiddenLine, readPasswordFromStdin } from '../../src/cli/password-input.ts';

function terminal() {
  const input = Object.assign(new PassThrough(), { isTTY: true, modes: [] as boolean[] });
  Object.assign(input, { setRawMode: (on: boolean) => input.modes.push(on) });
  const output = new PassThrough();
  let shown = '';
  output.on('data', (chunk: Buffer) => (shown += chunk.toString()));
  return { input: input as unknown as NodeJS.ReadStream & { modes: boolean[] }, output: output as unknown as NodeJS.WriteStream, shown: () => shown };
}

describe('hidden password prompt', () => {
  it('reads a line with backspace, echoes nothing of it, and restores the terminal', async () => {
    const tty = terminal();
    const line = readHiddenLine('Password: ', tty.input, tty.output);
    tty.input.write('correct horsX\u007fe battery\r');
    assert.equal(await line, 'correct horse battery');
    assert.equal(tty.shown(), 'Password: \n');
    assert.deepEqual(tty.input.modes, [true, false]);
  });

  it('cancels on Ctrl-C', async () => {
    const tty = terminal();
    const line = readHiddenLine('Password: ', tty.input, tty.output);
    tty.input.write('secret\u0003');
    await assert.rejects(line, (error: unknown) => error instanceof AppError && /Cancelled/.test(error.userMessage));
    assert.deepEqual(tty.input.modes, [true, false]);
  });
});

describe('--password-stdin', () => {
  it('takes the first line without its line break, and refuses an empty input', async () => {
    const pipe = new PassThrough();
    pipe.end('correct horse battery staple\r\nignored\n');
    assert.equal(await readPasswordFromStdin(pipe), 'correct horse battery staple');
    const empty = new PassThrough();
    empty.end('');
    await assert.rejects(readPasswordFromStdin(empty), /No password on standard input/);
  });
});
