// A real SMTP server on loopback (smtp-server) that keeps what it received, for tests of email:
// recipients at @bounce.test are refused for good (550), at @busy.test for now (451) while busy.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  /** The raw message as received (headers and body). */
  data: string;
}

export interface TestSmtpServer {
  readonly url: string;
  received(): ReceivedMail[];
  /** Mail received for one address. */
  to(address: string): ReceivedMail[];
  /** While true, @busy.test recipients get 451 (try later). */
  busy: boolean;
  close(): Promise<void>;
}

export async function startSmtpServer(): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const state = { busy: true };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (address.address.endsWith('@bounce.test')) return callback(Object.assign(new Error('No such user'), { responseCode: 550 }));
      if (state.busy && address.address.endsWith('@busy.test')) return callback(Object.assign(new Error('Try later'), { responseCode: 451 }));
      callback();
    },
    onData(stream, session, callback) {
      let data = '';
      stream.on('data', (chunk: Buffer) => (data += chunk.toString()));
      stream.on('end', () => {
        const subject = /^Subject: (.*)$/m.exec(data)?.[1]?.trim() ?? '';
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          subject,
          data,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received: () => [...received],
    to: (address) => received.filter((m) => m.to.includes(address)),
    get busy() {
      return state.busy;
    },
    set busy(value: boolean) {
      state.busy = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
