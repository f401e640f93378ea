// Email through a real SMTP server on loopback (smtp-server), reading what it received.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { EmailDeliveryError, createMailer } from '../../src/email/mailer.ts';

interface Received {
  from: string;
  to: string[];
  data: string;
}

describe('mailer', () => {
  const received: Received[] = [];
  let server: SMTPServer;
  let port = 0;
  before(async () => {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onRcptTo(address, _session, callback) {
        if (address.address.endsWith('@bounce.test')) return callback(Object.assign(new Error('No such user'), { responseCode: 550 }));
        if (address.address.endsWith('@busy.test')) return callback(Object.assign(new Error('Try later'), { responseCode: 451 }));
        callback();
      },
      onData(stream, session, callback) {
        let data = '';
        stream.on('data', (chunk: Buffer) => (data += chunk.toString()));
        stream.on('end', () => {
          received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), data });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends through SMTP: the server receives sender, recipient, subject and body', async () => {
    const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${port}`, from: 'DominionTrust <alerts@dominiontrust.test>' });
    try {
      const sent = await mailer.send({ to: 'ana@example.test', subject: 'New sign-in to your account', text: 'We noticed a new sign-in.' });
      assert.ok(sent.messageId);
      const mail = received.find((r) => r.to.includes('ana@example.test'));
      assert.ok(mail, 'the SMTP server received it');
      assert.equal(mail.from, 'alerts@dominiontrust.test');
      assert.match(mail.data, /Subject: New sign-in to your account/);
      assert.match(mail.data, /We noticed a new sign-in\./);
      assert.deepEqual(mailer.mailbox(), [], 'smtp mode keeps no copy');
    } finally {
      mailer.close();
    }
  });

  it('tells a permanent refusal (5xx) from a temporary one (4xx)', async () => {
    const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${port}`, from: 'alerts@dominiontrust.test' });
    try {
      await assert.rejects(mailer.send({ to: 'x@bounce.test', subject: 's', text: 't' }),
        (e: unknown) => e instanceof EmailDeliveryError && !e.retryable && /550/.test(e.userMessage));
      await assert.rejects(mailer.send({ to: 'x@busy.test', subject: 's', text: 't' }),
        (e: unknown) => e instanceof EmailDeliveryError && e.retryable && /451/.test(e.userMessage));
    } finally {
      mailer.close();
    }
  });

  it('an unreachable server is a retryable failure', async () => {
    const mailer = createMailer({ smtpUrl: 'smtp://127.0.0.1:1', from: 'alerts@dominiontrust.test', timeoutMs: 2000 });
    await assert.rejects(mailer.send({ to: 'a@example.test', subject: 's', text: 't' }), (e: unknown) => e instanceof EmailDeliveryError && e.retryable);
    mailer.close();
  });

  it('without SMTP settings keeps messages in the developer mailbox', async () => {
    const mailer = createMailer({ smtpUrl: undefined, from: 'alerts@dominiontrust.test' });
    await mailer.send({ to: 'dev@example.test', subject: 'Hello', text: 'Body' });
    assert.deepEqual(mailer.mailbox().map((m) => [m.to, m.subject]), [['dev@example.test', 'Hello']]);
    mailer.close();
  });
});
