// Turns what a customer or operator typed into the one E.164 form we store and send to, and
// refuses numbers we must not text (invalid ones, and countries the bank does not serve).
import { parsePhoneNumberWithError, ParseError, validatePhoneNumberLength } from 'libphonenumber-js/max';
import type { CountryCode, PhoneNumber } from 'libphonenumber-js/max';
import { AppError } from '../errors.ts';

export type { CountryCode };

/**
 * Countries a US bank texts by default: the United States, its territories that share the +1
 * numbering plan (Puerto Rico, Guam, US Virgin Islands, American Samoa, Northern Mariana Islands)
 * and Canada, where many customers live or travel. Every other country is off unless the operator
 * lists it in SMS_ALLOWED_COUNTRIES: international SMS costs 5-20x more and is the main target of
 * SMS pumping fraud, so each one should be a deliberate choice.
 */
export const DEFAULT_ALLOWED_COUNTRIES: readonly CountryCode[] = ['US', 'PR', 'GU', 'VI', 'AS', 'MP', 'CA'];

export interface NormalisedPhoneNumber {
  /** The number in E.164 form, e.g. +14155552671. */
  e164: string;
  country: CountryCode;
  /** The last four digits, the only part shown back to people. */
  last4: string;
}

export interface NormalisePhoneOptions {
  /** Country assumed for numbers typed without a +country code, e.g. (415) 555-2671. */
  defaultRegion: CountryCode;
  allowedCountries: readonly CountryCode[];
  /**
   * Accept Twilio's magic test numbers (+1 500 555 xxxx). Only for test credentials and the
   * simulator: on a live account they are never a customer's phone.
   */
  allowTwilioTestNumbers?: boolean;
}

export const E164_HINT = 'Use E.164 format: +14155552671 (plus sign, country code, number; no spaces).';

// What people type around the digits. Anything else (letters, "ext", "#") is refused rather than
// guessed at: a vanity number like 1-800-FLOWERS or an extension cannot receive an SMS code.
const ALLOWED_PUNCTUATION = /[\s\-.()]/g;
const TWILIO_MAGIC_NUMBER = /^\+1500555\d{4}$/;

const regionNames = new Intl.DisplayNames(['en'], { type: 'region' });

/** English name of a country, e.g. "United Kingdom" for GB; falls back to the code itself. */
export function countryName(country: string): string {
  try {
    return regionNames.of(country) ?? country;
  } catch {
    return country;
  }
}

function invalidNumber(input: string, problem: string, cause?: unknown): AppError {
  const shown = input.trim() === '' ? '(empty)' : `"${input.trim()}"`;
  return new AppError('invalid_phone_number', `Invalid Phone Number: ${shown} ${problem}. ${E164_HINT}`, { cause });
}

function lengthProblem(reason: string | undefined): string | null {
  switch (reason) {
    case 'TOO_SHORT': return 'is too short';
    case 'TOO_LONG': return 'is too long';
    case 'NOT_A_NUMBER': return 'is not a number';
    case 'INVALID_COUNTRY': return 'does not start with a known country code';
    case 'INVALID_LENGTH': return 'has the wrong number of digits for its country';
    default: return null;
  }
}

/**
 * Parses a phone number in any common form (spaces, dashes, dots, brackets, a national number
 * in defaultRegion, +country or 00country) and returns its E.164 form.
 * Throws AppError 'invalid_phone_number' or 'country_not_allowed' with a message for the person
 * who typed it.
 */
export function normalisePhoneNumber(input: string, options: NormalisePhoneOptions): NormalisedPhoneNumber {
  const compact = input.replace(ALLOWED_PUNCTUATION, '');
  if (compact === '' || !/^\+?\d+$/.test(compact)) {
    throw invalidNumber(input, 'is not a number (only digits, spaces, dashes, dots, brackets and a leading + are allowed)');
  }
  // 00 is the international prefix in most of the world; libphonenumber only knows it as such
  // when defaultRegion uses it, and a US default would read 0044... as a national number.
  const text = compact.startsWith('00') ? `+${compact.slice(2)}` : compact;

  let parsed: PhoneNumber;
  try {
    parsed = parsePhoneNumberWithError(text, { defaultCountry: options.defaultRegion });
  } catch (error) {
    const problem = error instanceof ParseError ? lengthProblem(error.message) : null;
    throw invalidNumber(input, problem ?? 'could not be read as a phone number', error);
  }

  const e164 = parsed.number;
  const isTestNumber = TWILIO_MAGIC_NUMBER.test(e164);
  if (isTestNumber && options.allowTwilioTestNumbers === true) {
    // Magic numbers are North American by construction; no allow-list check, they cost nothing.
    return { e164, country: 'US', last4: e164.slice(-4) };
  }
  if (isTestNumber) {
    throw invalidNumber(input, 'is a Twilio test number (+1 500 555 xxxx), which only works with test credentials or the simulator');
  }

  const lengthReason = validatePhoneNumberLength(text, { defaultCountry: options.defaultRegion });
  const problem = lengthProblem(lengthReason);
  if (problem !== null) throw invalidNumber(input, problem);

  if (!parsed.isValid()) {
    const where = parsed.country !== undefined
      ? `${countryName(parsed.country)} (${parsed.country})`
      : `country code +${parsed.countryCallingCode}`;
    throw invalidNumber(input, `is not a valid number for ${where}`);
  }
  const country = parsed.country;
  if (country === undefined) {
    // Valid but non-geographic (+800, +882 ...): satellite and freephone ranges that take no SMS.
    throw invalidNumber(input, `is a non-geographic number (+${parsed.countryCallingCode}) that cannot receive SMS`);
  }
  if (!options.allowedCountries.includes(country)) {
    const allowed = options.allowedCountries.map((c) => `${countryName(c)} (${c})`).join(', ');
    throw new AppError(
      'country_not_allowed',
      `Country Not Allowed: ${e164} is a number in ${countryName(country)} (${country}), and SMS is ` +
        `only sent to ${allowed === '' ? 'no country' : allowed}. To allow it, add ${country} to ` +
        `SMS_ALLOWED_COUNTRIES (comma-separated ISO country codes) in .env and restart.`,
    );
  }
  return { e164, country, last4: e164.slice(-4) };
}

/**
 * Masks a number for logs and screens: only the last four digits stay, e.g. ***2671. ASCII on
 * purpose, so it reads the same in a terminal, a log line and an SMS.
 */
export function maskPhoneNumber(e164: string): string {
  const digits = e164.replace(/\D/g, '');
  return digits.length <= 4 ? '***' : `***${digits.slice(-4)}`;
}
