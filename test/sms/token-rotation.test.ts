// Rotating the auth token without losing a callback: while TWILIO_AUTH_TOKEN_PREVIOUS is set, a
// status callback signed with it is accepted; `--check-setup` says which token signed recently
// and when the old one may go; once it is removed, a callback signed with it is refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import twilio from 'twilio';
import type { Config } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { reportText } from '../../src/cli/twilio-report.ts';
import { runTwilioSetup } from '../../src/twilio-setup/run.ts';
import { createTestContext, HeldClock, type TestContext } from '../helpers/context.ts';

const OLD_TOKEN = 'old-auth-token-0123456789abcdef0';
const NEW_TOKEN = 'new-auth-token-fedcba9876543210f';
const PUBLIC = 'https://bank.example.com';
const CALLBACK_URL = `${PUBLIC}/webhooks/twilio/status`;
const PARAMS = { MessageSid: `SM${'a'.repeat(32)}`, MessageStatus: 'delivered', AccountSid: `AC${'0'.repeat(32)}` };

let t: TestContext;
const clock = new HeldClock('2026-11-25T15:00:00Z');
before(async () => {
  t = await createTestContext({ clock, env: { TWILIO_AUTH_TOKEN: NEW_TOKEN, TWILIO_AUTH_TOKEN_PREVIOUS: OLD_TOKEN, PUBLIC_BASE_URL: PUBLIC } });
});
after(() => t.close());

function callback(config: Config, token: string) {
  const app = buildApp({ ...t.ctx, config });
  return app.inject({
    method: 'POST', url: '/webhooks/twilio/status',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilio.getExpectedTwilioSignature(token, CALLBACK_URL, PARAMS) },
    payload: new URLSearchParams(PARAMS).toString(),
  });
}

async function signaturesCheck() {
  const report = await runTwilioSetup(t.ctx, { checkSetup: true });
  const check = report.checks.find((c) => c.name === 'twilio.webhook_signatures');
  assert.ok(check, JSON.stringify(report.checks, null, 2));
  assert.ok(!reportText(report, { via: 'local' }).includes(OLD_TOKEN) && !JSON.stringify(report).includes(NEW_TOKEN), 'no token is shown');
  return check;
}

describe('auth token rotation', () => {
  it('accepts a callback signed with the previous token while it is set, and says to keep it', async () => {
    assert.equal((await callback(t.config, OLD_TOKEN)).statusCode, 204);
    const check = await signaturesCheck();
    assert.equal(check.title, 'Keep TWILIO_AUTH_TOKEN_PREVIOUS');
    assert.match(check.detail, /TWILIO_AUTH_TOKEN has signed no webhook yet; TWILIO_AUTH_TOKEN_PREVIOUS signed 1, the last at 2026-11-25 15:00:00 UTC/);
    assert.match(check.fix ?? '', /not before 2026-11-26 15:00:00 UTC/);
  });

  it('after the new token signs and a quiet day, says the previous one is safe to remove', async () => {
    clock.advance(60_000);
    assert.equal((await callback(t.config, NEW_TOKEN)).statusCode, 204);
    assert.equal((await signaturesCheck()).title, 'Keep TWILIO_AUTH_TOKEN_PREVIOUS', 'the old token signed less than a day ago');
    clock.advance(24 * 60 * 60 * 1000);
    const check = await signaturesCheck();
    assert.equal(check.title, 'Safe to remove TWILIO_AUTH_TOKEN_PREVIOUS');
    assert.match(check.detail, /^TWILIO_AUTH_TOKEN signed 1 webhook\(s\), the last at 2026-11-25 15:01:00 UTC; TWILIO_AUTH_TOKEN_PREVIOUS signed 1/);
    assert.equal(check.ok, true, 'advice, not a failure');
  });

  it('refuses a callback signed with the old token once TWILIO_AUTH_TOKEN_PREVIOUS is removed; the new one still passes', async () => {
    const removed: Config = { ...t.config, twilio: { ...t.config.twilio, previousAuthToken: undefined } };
    const refused = await callback(removed, OLD_TOKEN);
    assert.equal(refused.statusCode, 403);
    assert.match(refused.json<{ message: string }>().message, /X-Twilio-Signature does not match/);
    assert.equal((await callback(removed, NEW_TOKEN)).statusCode, 204);
    const report = await runTwilioSetup({ ...t.ctx, config: removed }, { checkSetup: true });
    const check = report.checks.find((c) => c.name === 'twilio.webhook_signatures');
    assert.deepEqual([check?.level, check?.detail], ['ok', 'TWILIO_AUTH_TOKEN signed 2 webhook(s), the last at 2026-11-26 15:01:00 UTC']);
  });

  it('a wrong token is refused while the previous one is set too', async () => {
    assert.equal((await callback(t.config, 'some-other-token-0123456789abcdef')).statusCode, 403);
  });
});
