// What a refusal of unreadable or invalid input says: the field to fix, quoted short enough to
// read (a client's kilobytes-long key is cut, never echoed whole), and how to fix it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { AppError } from '../../src/errors.ts';
import { parseInput, unreadableInput } from '../../src/http/session-auth.ts';

const schema = z.object({ amountMinor: z.number().int().positive() }).strict();

function refusal(input: unknown): string {
  try {
    parseInput(schema, input);
  } catch (error) {
    assert.ok(error instanceof AppError && error.code === 'validation_failed', String(error));
    return error.message;
  }
  assert.fail('accepted');
}

describe('input refusals', () => {
  it('name the field and say what to send', () => {
    assert.equal(refusal({ amountMinor: 'x\0' }), 'amountMinor: contains a NUL character or a broken Unicode character (a lone surrogate); send plain text.');
    assert.equal(unreadableInput({ note: 'fine', nested: { deeper: '\uD800' } }), 'nested.deeper: contains a NUL character or a broken Unicode character (a lone surrogate); send plain text.');
    assert.match(refusal({ amountMinor: -5 }), /^amountMinor: /);
  });

  it('quote a field name of kilobytes by its first 64 characters and its length', () => {
    const key = `${'3Rp{'.repeat(2500)}+14155550100`;
    const unreadable = refusal({ [key]: 'bad\0' });
    assert.equal(unreadable, `${key.slice(0, 64)}… (a field name of ${key.length} characters): contains a NUL character or a broken Unicode character (a lone surrogate); send plain text.`);
    assert.ok(!unreadable.includes('+14155550100'), 'the tail of the key is not echoed');
    const invalid = refusal({ amountMinor: 1, [key]: 1 });
    assert.equal(invalid, `body: unknown field "${key.slice(0, 64)}… (a field name of ${key.length} characters)"; send only the fields documented at /docs.`);
    const many = refusal(Object.fromEntries([['amountMinor', 1], ...Array.from({ length: 8 }, (_, i) => [`extra${i}`, i])]));
    assert.equal(many, 'body: unknown fields "extra0", "extra1", "extra2", "extra3", "extra4" and 3 more; send only the fields documented at /docs.');
  });
});
