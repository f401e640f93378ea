// Phone numbers as people type them, and the messages they get when a number cannot be used.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/errors.ts';
import {
  DEFAULT_ALLOWED_COUNTRIES, maskPhoneNumber, normalisePhoneNumber,
} from '../../src/sms/phone.ts';
import type { NormalisePhoneOptions } from '../../src/sms/phone.ts';

const US: NormalisePhoneOptions = { defaultRegion: 'US', allowedCountries: DEFAULT_ALLOWED_COUNTRIES };
const US_AND_GB: NormalisePhoneOptions = { defaultRegion: 'US', allowedCountries: [...DEFAULT_ALLOWED_COUNTRIES, 'GB'] };

function rejection(input: string, options: NormalisePhoneOptions): AppError {
  try {
    normalisePhoneNumber(input, options);
  } catch (error) {
    assert.ok(error instanceof AppError, `expected AppError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected "${input}" to be rejected`);
}

describe('normalisePhoneNumber', () => {
  for (const input of ['+1 (415) 555-2671', '415.555.2671', '(415) 555-2671', '415-555-2671', '1 415 555 2671', '+14155552671', ' +1 415 555 2671 ', '011 1 415 555 2671']) {
    it(`reads "${input}" as +14155552671`, () => {
      assert.deepEqual(normalisePhoneNumber(input, US), { e164: '+14155552671', country: 'US', last4: '2671' });
    });
  }

  it('uses the default region for national numbers', () => {
    const uk = normalisePhoneNumber('020 7946 0958', { defaultRegion: 'GB', allowedCountries: ['GB'] });
    assert.deepEqual(uk, { e164: '+442079460958', country: 'GB', last4: '0958' });
  });

  it('reads the 00 international prefix whatever the default region', () => {
    assert.equal(normalisePhoneNumber('0044 20 7946 0958', US_AND_GB).e164, '+442079460958');
    assert.equal(normalisePhoneNumber('00 1 415 555 2671', US).e164, '+14155552671');
  });

  it('finds the territory of a +1 number (Puerto Rico, Guam) and allows it by default', () => {
    assert.equal(normalisePhoneNumber('(787) 764-0000', US).country, 'PR');
    assert.equal(normalisePhoneNumber('+1 671 555 0100', US).country, 'GU');
    assert.equal(normalisePhoneNumber('+1 604 555 0100', US).country, 'CA');
  });

  it('refuses a country that is not allowed, naming it and the fix', () => {
    const error = rejection('0044 20 7946 0958', US);
    assert.equal(error.code, 'country_not_allowed');
    assert.match(error.userMessage, /United Kingdom \(GB\)/);
    assert.match(error.userMessage, /SMS_ALLOWED_COUNTRIES/);
    assert.match(error.userMessage, /United States \(US\)/);
  });

  it('refuses a Bahamas number even though it shares +1', () => {
    const error = rejection('+1 242 359 1234', US);
    assert.equal(error.code, 'country_not_allowed');
    assert.match(error.userMessage, /Bahamas \(BS\)/);
  });

  it('says a short number is too short, with the E.164 hint', () => {
    const error = rejection('12345', US);
    assert.equal(error.code, 'invalid_phone_number');
    assert.match(error.userMessage, /^Invalid Phone Number/);
    assert.match(error.userMessage, /too short/);
    assert.match(error.userMessage, /Use E\.164 format: \+14155552671 \(plus sign, country code, number; no spaces\)/);
  });

  it('says a long number is too long', () => {
    const error = rejection('+1 415 555 2671 9999', US);
    assert.equal(error.code, 'invalid_phone_number');
    assert.match(error.userMessage, /too long/);
  });

  for (const input of ['415-CALL-NOW', 'abc', '', '   ', '+14155552671 ext 5', '+1 415 555 2671#']) {
    it(`says "${input}" is not a number`, () => {
      const error = rejection(input, US);
      assert.equal(error.code, 'invalid_phone_number');
      assert.match(error.userMessage, /^Invalid Phone Number/);
      assert.match(error.userMessage, /not a number/);
    });
  }

  it('says a well-formed but unassigned number is not valid for its country', () => {
    const error = rejection('+1 555 555 5555', US);
    assert.equal(error.code, 'invalid_phone_number');
    assert.match(error.userMessage, /not a valid number for/);
    const uk = rejection('+44 1234', US_AND_GB);
    assert.match(uk.userMessage, /too short|not a valid number/);
  });

  it('says an unknown country code is unknown', () => {
    const error = rejection('+999 1234 5678', US);
    assert.match(error.userMessage, /country code/);
  });

  it('accepts Twilio magic test numbers only when asked to', () => {
    const error = rejection('+15005550006', US);
    assert.equal(error.code, 'invalid_phone_number');
    assert.match(error.userMessage, /Twilio test number/);
    const withTests = { ...US, allowTwilioTestNumbers: true };
    assert.deepEqual(normalisePhoneNumber('+1 500 555 0006', withTests), { e164: '+15005550006', country: 'US', last4: '0006' });
    assert.equal(normalisePhoneNumber('+15005550001', withTests).e164, '+15005550001');
  });
});

describe('maskPhoneNumber', () => {
  it('keeps only the last four digits', () => {
    assert.equal(maskPhoneNumber('+14155552671'), '***2671');
    assert.equal(maskPhoneNumber('+442079460958'), '***0958');
  });

  it('shows nothing of a number too short to mask', () => {
    assert.equal(maskPhoneNumber('123'), '***');
  });
});
