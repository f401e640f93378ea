// Money, masked numbers and dates as a customer reads them, kept inside the GSM-7 alphabet.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/errors.ts';
import { accountEnding, cardEnding, formatDate, formatMoney, languageOf, lastFour, localeFor } from '../../src/notifications/templates/format.ts';
import { analyseSmsBody } from '../../src/sms/segments.ts';

const isGsm = (text: string) => analyseSmsBody(text, { pricePerSegment: 0 }).encoding === 'GSM-7';

describe('formatMoney', () => {
  it('shows US dollars in en-US with cents', () => {
    assert.equal(formatMoney(123456, 'USD', 'en-US'), '$1,234.56');
    assert.equal(formatMoney(5n, 'USD', 'en-US'), '$0.05');
    assert.equal(formatMoney(-4520, 'usd', 'en-US'), '-$45.20');
  });

  it('shows US dollars in es-US the way US Spanish speakers write them', () => {
    assert.equal(formatMoney(123456, 'USD', 'es-US'), '$1,234.56');
  });

  it('uses the currency\'s own minor units: none for JPY, three for BHD', () => {
    assert.equal(formatMoney(1235, 'JPY', 'en-US'), '¥1,235');
    assert.equal(formatMoney(1234567, 'BHD', 'en-US'), 'BHD 1,234.567');
  });

  it('is exact for amounts beyond a float\'s precision', () => {
    assert.equal(formatMoney(123456789012345678901n, 'USD', 'en-US'), '$1,234,567,890,123,456,789.01');
    assert.equal(formatMoney('-100', 'USD', 'en-US'), '-$1.00');
  });

  it('replaces the no-break spaces ICU puts in some locales, which would force UCS-2', () => {
    const euro = formatMoney(123456, 'EUR', 'es-US');
    assert.equal(euro, 'EUR 1,234.56');
    const spain = formatMoney(123456, 'EUR', 'es-ES');
    assert.ok(isGsm(spain), JSON.stringify(spain));
  });

  it('refuses fractional minor units and unknown currencies with a message to act on', () => {
    assert.throws(() => formatMoney(12.5, 'USD', 'en-US'), (e: unknown) => e instanceof AppError && /minor units/.test(e.userMessage));
    assert.throws(() => formatMoney(100, 'DOLLARS', 'en-US'), (e: unknown) => e instanceof AppError && /ISO 4217/.test(e.userMessage));
  });
});

describe('last 4 digits only', () => {
  it('keeps the last four digits of any number, whatever its punctuation', () => {
    assert.equal(lastFour('4242 4242 4242 4242'), '4242');
    assert.equal(lastFour('000123-4821'), '4821');
    assert.equal(lastFour(987654321), '4321');
  });

  it('names the card or account in the customer\'s language', () => {
    assert.equal(cardEnding('4111111111114242'), 'card ending 4242');
    assert.equal(cardEnding('4111111111114242', 'es'), 'tarjeta terminada en 4242');
    assert.equal(accountEnding('12345678', 'es-MX'), 'cuenta terminada en 5678');
    assert.equal(accountEnding('12345678', 'fr'), 'account ending 5678');
  });
});

describe('dates and locales', () => {
  it('shows an instant in the customer\'s zone and language', () => {
    const instant = new Date('2026-11-25T03:30:00Z');
    assert.equal(formatDate(instant, 'date', 'en-US', 'America/New_York'), 'Nov 24, 2026');
    assert.equal(formatDate(instant, 'date', 'en-US', 'Asia/Tokyo'), 'Nov 25, 2026');
    assert.equal(formatDate(instant, 'month', 'es-US', 'UTC'), '11/2026');
    assert.ok(isGsm(formatDate(instant, 'datetime', 'en-US', 'America/New_York')));
  });

  it('maps a language to its US locale', () => {
    assert.equal(languageOf('es-MX'), 'es');
    assert.equal(localeFor('en'), 'en-US');
    assert.equal(localeFor('ES'), 'es-US');
    assert.equal(localeFor('fr'), 'fr');
  });
});
