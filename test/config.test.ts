// Configuration: validated once, every problem reported at once, secrets never echoed.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SIMULATOR_DEFAULTS, loadConfig } from '../src/config.ts';
import { AppError } from '../src/errors.ts';

const NO_FILE = '/nonexistent/.env';
const SID = 'AC0123456789abcdef0123456789abcdef';

function configError(env: Record<string, string>): AppError {
  try {
    loadConfig(env, NO_FILE);
  } catch (error) {
    assert.ok(error instanceof AppError);
    assert.equal(error.code, 'config_invalid');
    return error;
  }
  assert.fail('expected the configuration to be refused');
}

describe('configuration', () => {
  it('defaults to the simulator, announced, with embedded PGlite and port 8000', () => {
    const config = loadConfig({}, NO_FILE);
    assert.equal(config.smsProvider, 'simulator');
    assert.equal(config.twilio.accountSid, SIMULATOR_DEFAULTS.accountSid);
    assert.equal(config.twilio.apiBaseUrl, 'http://127.0.0.1:8001');
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.port, 8000);
    assert.match(config.dataDir, /data$/);
    assert.deepEqual([...config.smsAllowedCountries].sort(), ['AS', 'CA', 'GU', 'MP', 'PR', 'US', 'VI']);
    assert.equal(config.pricing.pricePerSegment, 0.0075);
  });

  it('uses Twilio when all three TWILIO_* values are set', () => {
    const config = loadConfig({ TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: 'a'.repeat(32), TWILIO_PHONE_NUMBER: '+14155550100' }, NO_FILE);
    assert.equal(config.smsProvider, 'twilio');
    assert.equal(config.twilio.apiBaseUrl, 'https://api.twilio.com');
    assert.deepEqual(config.twilio.auth, { kind: 'token', authToken: 'a'.repeat(32) });
  });

  it('prefers an API key for REST calls and keeps the auth token for webhook signatures', () => {
    const config = loadConfig({
      TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: 'a'.repeat(32), TWILIO_PHONE_NUMBER: '+14155550100',
      TWILIO_API_KEY_SID: `SK${'b'.repeat(32)}`, TWILIO_API_KEY_SECRET: 'key-secret-value',
    }, NO_FILE);
    assert.deepEqual(config.twilio.auth, { kind: 'apiKey', apiKeySid: `SK${'b'.repeat(32)}`, apiKeySecret: 'key-secret-value' });
    assert.equal(config.twilio.authToken, 'a'.repeat(32));
  });

  it('reports every bad value at once, naming the variable, the problem and an example', () => {
    const error = configError({
      TWILIO_ACCOUNT_SID: 'ACnothex',
      TWILIO_PHONE_NUMBER: '415 555 2671',
      PORT: 'eighty',
      DEFAULT_REGION: 'USA',
      SMS_PRICE_OVERRIDES: 'CA:0.01',
    });
    const message = error.userMessage;
    for (const name of ['TWILIO_ACCOUNT_SID', 'TWILIO_PHONE_NUMBER', 'PORT', 'DEFAULT_REGION', 'SMS_PRICE_OVERRIDES']) {
      assert.match(message, new RegExp(`- ${name}:`), `${name} reported`);
    }
    assert.match(message, /TWILIO_ACCOUNT_SID: must be 'AC' followed by 32 hex characters \(got "ACnothex"\); example: TWILIO_ACCOUNT_SID=AC0123456789abcdef0123456789abcdef/);
    assert.match(message, /TWILIO_PHONE_NUMBER: must be in E\.164 format.*example: TWILIO_PHONE_NUMBER=\+14155552671/);
  });

  it('refuses a DEFAULT_REGION or allowed country libphonenumber does not know (ZZ), with the other settings', () => {
    const message = configError({ DEFAULT_REGION: 'ZZ', SMS_ALLOWED_COUNTRIES: 'US,QQ', PORT: 'eighty' }).userMessage;
    assert.match(message, /- DEFAULT_REGION: is not a country libphonenumber knows, so no national number could be read \(got "ZZ"\)/);
    assert.match(message, /- SMS_ALLOWED_COUNTRIES: each entry must be a country libphonenumber knows/);
    assert.match(message, /- PORT:/, 'reported together with the other bad settings');
  });

  it('never echoes a secret value in an error', () => {
    const error = configError({ TWILIO_AUTH_TOKEN: 'short-secret', DATABASE_URL: 'mysql://user:pa55word@host/db' });
    assert.match(error.userMessage, /TWILIO_AUTH_TOKEN/);
    assert.match(error.userMessage, /DATABASE_URL/);
    assert.doesNotMatch(error.userMessage, /short-secret|pa55word/);
  });

  it('reads an untracked .env file, with the environment taking precedence', () => {
    const dir = mkdtempSync('/tmp/dominion-env-');
    writeFileSync(join(dir, '.env'), 'PORT=9100\nDEFAULT_REGION=CA\n');
    const config = loadConfig({ DEFAULT_REGION: 'US' }, join(dir, '.env'));
    assert.equal(config.port, 9100);
    assert.equal(config.defaultRegion, 'US');
  });

  it('keeps the password hash cost at OWASP\'s minimum or above, except for the test suite', () => {
    assert.equal(loadConfig({}, NO_FILE).security.passwordHashCost, 15);
    assert.equal(loadConfig({ PASSWORD_HASH_COST: '17' }, NO_FILE).security.passwordHashCost, 17);
    assert.equal(loadConfig({ PASSWORD_HASH_COST: '10', NODE_ENV: 'test' }, NO_FILE).security.passwordHashCost, 10);
    assert.match(configError({ PASSWORD_HASH_COST: '10' }).message, /PASSWORD_HASH_COST: 10 is below OWASP's password-hash minimum of 15/);
    assert.match(configError({ PASSWORD_HASH_COST: '9', NODE_ENV: 'test' }).message, /PASSWORD_HASH_COST/);
  });

  it('moves the clock (TEST_CLOCK_OFFSET_MS) only for the test suite', () => {
    assert.equal(loadConfig({}, NO_FILE).testClockOffsetMs, 0);
    assert.equal(loadConfig({ TEST_CLOCK_OFFSET_MS: '-3600000', NODE_ENV: 'test' }, NO_FILE).testClockOffsetMs, -3_600_000);
    assert.match(configError({ TEST_CLOCK_OFFSET_MS: '5000' }).message, /TEST_CLOCK_OFFSET_MS: allowed only with NODE_ENV=test/);
  });
});
