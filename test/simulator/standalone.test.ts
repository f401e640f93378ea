// `dominion twilio-sim` as its own process, configured by its flags, reached by the real provider.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SmsProviderError } from '../../src/sms/provider.ts';
import { createTwilioProvider } from '../../src/sms/twilio-provider.ts';
import { freePort, startDominion } from '../helpers/process.ts';

describe('dominion twilio-sim', () => {
  it('serves the account, number and balance given by its flags and enforces its credentials', async () => {
    const port = await freePort();
    const sid = 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const sim = startDominion(['twilio-sim', '--port', String(port), '--account-sid', sid, '--auth-token', 'flag-token-123456',
      '--phone-number', '+14155550123', '--balance', '0.01', '--status-step', '5'], {});
    try {
      const deadline = Date.now() + 30_000;
      while (!sim.output().includes('listening')) {
        assert.ok(Date.now() < deadline, `simulator did not start:\n${sim.output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const url = `http://127.0.0.1:${port}`;
      const provider = createTwilioProvider({ accountSid: sid, auth: { kind: 'token', authToken: 'flag-token-123456' }, apiBaseUrl: url });
      assert.deepEqual((await provider.listSenderNumbers()).map((n) => n.phoneNumber), ['+14155550123']);
      assert.equal((await provider.fetchBalance()).balance, 0.01);
      const sent = await provider.send({ to: '+14155552671', from: '+14155550123', body: 'one segment' });
      assert.match(sent.sid, /^SM/);
      // 0.01 - 0.0075 leaves too little for a second segment.
      await assert.rejects(provider.send({ to: '+14155552671', from: '+14155550123', body: 'again' }),
        (e: unknown) => e instanceof SmsProviderError && e.kind === 'insufficient_funds');
      const wrong = createTwilioProvider({ accountSid: sid, auth: { kind: 'token', authToken: 'not-the-token' }, apiBaseUrl: url });
      await assert.rejects(wrong.fetchAccount(), (e: unknown) => e instanceof SmsProviderError && e.kind === 'authentication' && e.twilioCode === 20003);
    } finally {
      sim.child.kill('SIGTERM');
      assert.equal((await sim.exited).code, 0);
    }
  });

  it('refuses a bad flag with a usage error', async () => {
    const sim = startDominion(['twilio-sim', '--failure-rate', '2'], {});
    const { code } = await sim.exited;
    assert.equal(code, 2);
    assert.match(sim.output(), /--failure-rate must be a number from 0 to 1/);
  });
});
