// Segment counts and price estimates at the boundaries where Twilio's billing changes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/errors.ts';
import { analyseSmsBody, roundUsd } from '../../src/sms/segments.ts';

const US_PRICE = { pricePerSegment: 0.0083 };

describe('analyseSmsBody', () => {
  it('fits 160 GSM-7 characters in one segment', () => {
    const result = analyseSmsBody('a'.repeat(160), US_PRICE);
    assert.deepEqual(result, { encoding: 'GSM-7', segments: 1, characters: 160, estimatedPrice: 0.0083, nonGsmCharacters: [] });
  });

  it('splits 161 GSM-7 characters into two segments of up to 153', () => {
    assert.equal(analyseSmsBody('a'.repeat(161), US_PRICE).segments, 2);
    assert.equal(analyseSmsBody('a'.repeat(306), US_PRICE).segments, 2);
    assert.equal(analyseSmsBody('a'.repeat(307), US_PRICE).segments, 3);
    assert.equal(analyseSmsBody('a'.repeat(161), US_PRICE).estimatedPrice, 0.0166);
  });

  it('switches to UCS-2 for an emoji: 70 alone, 67 per part', () => {
    const seventy = analyseSmsBody(`${'a'.repeat(69)}😀`.slice(0, 70), US_PRICE);
    assert.equal(seventy.encoding, 'UCS-2');
    // The emoji is two UTF-16 code units, so 68 letters + emoji fill exactly 70.
    const full = analyseSmsBody(`${'a'.repeat(68)}😀`, US_PRICE);
    assert.deepEqual([full.encoding, full.segments, full.characters], ['UCS-2', 1, 69]);
    const over = analyseSmsBody(`${'a'.repeat(69)}😀`, US_PRICE);
    assert.deepEqual([over.encoding, over.segments], ['UCS-2', 2]);
    assert.deepEqual(over.nonGsmCharacters, ['😀']);
    assert.equal(analyseSmsBody('é'.repeat(70), US_PRICE).encoding, 'GSM-7');
    assert.deepEqual([analyseSmsBody('ç'.repeat(70), US_PRICE).segments, analyseSmsBody('ç'.repeat(71), US_PRICE).segments], [1, 2]);
    assert.equal(analyseSmsBody('ç'.repeat(134), US_PRICE).segments, 2);
    assert.equal(analyseSmsBody('ç'.repeat(135), US_PRICE).segments, 3);
  });

  it('counts GSM-7 extension characters such as € as two septets', () => {
    const eighty = analyseSmsBody('€'.repeat(80), US_PRICE);
    assert.deepEqual([eighty.encoding, eighty.segments, eighty.characters], ['GSM-7', 1, 80]);
    assert.equal(analyseSmsBody('€'.repeat(81), US_PRICE).segments, 2);
    assert.equal(analyseSmsBody(`${'a'.repeat(159)}€`, US_PRICE).segments, 2);
    assert.equal(analyseSmsBody(`${'a'.repeat(158)}[`, US_PRICE).segments, 1);
  });

  it('prices by the destination country when it has its own price', () => {
    const pricing = { pricePerSegment: 0.0083, perCountry: { CA: 0.0085, GB: 0.0463 } };
    assert.equal(analyseSmsBody('Hello', pricing, 'CA').estimatedPrice, 0.0085);
    assert.equal(analyseSmsBody('a'.repeat(161), pricing, 'gb').estimatedPrice, 0.0926);
    assert.equal(analyseSmsBody('Hello', pricing, 'US').estimatedPrice, 0.0083);
    assert.equal(analyseSmsBody('Hello', pricing).estimatedPrice, 0.0083);
  });

  it('rounds estimates to 5 decimals like Twilio prices', () => {
    assert.equal(analyseSmsBody('a'.repeat(400), { pricePerSegment: 0.00791 }).estimatedPrice, 0.02373);
    assert.equal(roundUsd(0.1 + 0.2), 0.3);
    assert.equal(roundUsd(0.000015), 0.00002);
  });

  it('counts an empty body as no segments', () => {
    assert.deepEqual(analyseSmsBody('', US_PRICE), { encoding: 'GSM-7', segments: 0, characters: 0, estimatedPrice: 0, nonGsmCharacters: [] });
  });

  it('refuses a negative price as a configuration error', () => {
    assert.throws(() => analyseSmsBody('Hi', { pricePerSegment: -1 }), (error: unknown) =>
      error instanceof AppError && error.code === 'config_invalid');
    assert.throws(() => analyseSmsBody('Hi', { pricePerSegment: 0.0083, perCountry: { CA: Number.NaN } }, 'CA'), AppError);
  });
});
