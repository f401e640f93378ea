// Reading a password on the command line: typed at a terminal with nothing echoed, or read from
// standard input (`--password-stdin`) for scripts. Never from an argument: those end up in shell
// history and in `ps`.
import { AppError } from '../errors.ts';

/** Reads one line from the terminal without echoing it. Ctrl-C cancels. */
export function readHiddenLine(prompt: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): Promise<string> {
  return new Promise((resolve, reject) => {
    output.write(prompt);
    let value = '';
    const finish = () => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolve(value);
          return;
        }
        if (ch === '\u0003' || ch === '\u0004') {
          finish();
          reject(new AppError('validation_failed', 'Cancelled: no user was created.'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on('data', onData);
  });
}

/** Reads the password from standard input: its first line, without the line break. */
export async function readPasswordFromStdin(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  const [line = ''] = Buffer.concat(chunks).toString('utf8').split(/\r?\n/);
  if (line === '') throw new AppError('validation_failed', 'No password on standard input: pipe one line, e.g. printf \'%s\\n\' "$PASSWORD" | npx dominion createuser alice --password-stdin');
  return line;
}
