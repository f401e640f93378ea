// The plain-GSM fast path of analyseSmsBody gives exactly what Twilio's calculator gives, for any
// body: the calculator itself is the oracle, fed bodies from the fast path's alphabet and around it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SegmentedMessage } from 'sms-segments-calculator';
import { analyseSmsBody } from '../../src/sms/segments.ts';

const PRICING = { pricePerSegment: 0.0075 };
const PLAIN = 'ABCXYZabcxyz0189 \n\r!"#$%&\'()*+,-./:;<=>?@_';
const AROUND = `${PLAIN}^{}\\[]~|\`€éü😀`;

function calculator(body: string) {
  const m = new SegmentedMessage(body, 'auto', false);
  return { encoding: m.encodingName, segments: body === '' ? 0 : m.segmentsCount, characters: m.graphemes.length, nonGsmCharacters: m.getNonGsmCharacters() };
}

describe('analyseSmsBody fast path', () => {
  for (const [name, alphabet] of [['plain GSM-7 bodies', PLAIN], ['bodies with extension, non-GSM and emoji characters', AROUND]] as const) {
    it(`matches the calculator on ${name} of 0-480 characters`, () => {
      const body = fc.array(fc.constantFrom(...alphabet), { maxLength: 480 }).map((cs) => cs.join(''));
      fc.assert(fc.property(body, (b) => {
        const got = analyseSmsBody(b, PRICING);
        const want = calculator(b);
        assert.deepEqual({ encoding: got.encoding, segments: got.segments, characters: got.characters, nonGsmCharacters: got.nonGsmCharacters }, want);
        assert.equal(got.estimatedPrice, Math.round(want.segments * 0.0075 * 100_000) / 100_000);
      }), { numRuns: 300 });
    });
  }

  it('matches at the segment boundaries 160/161 and 306/307', () => {
    for (const n of [0, 1, 153, 159, 160, 161, 306, 307, 459, 460]) {
      assert.equal(analyseSmsBody('a'.repeat(n), PRICING).segments, calculator('a'.repeat(n)).segments, `${n} characters`);
    }
  });
});
