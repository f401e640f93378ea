// Password hashing and the strength rule: salted scrypt in a self-describing string, verified in
// constant time, and weak passwords refused with a message a person can act on.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/errors.ts';
import { checkPasswordStrength, hashPassword, needsRehash, verifyPassword } from '../../src/users/passwords.ts';

describe('password hashing', () => {
  it('stores a salted scrypt hash in PHC-like form, never the password', async () => {
    const password = 'correct horse battery staple';
    const [a, b] = await Promise.all([hashPassword(password), hashPassword(password)]);
    assert.match(a, /^\$scrypt\$ln=15,r=8,p=3\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, b, 'two hashes of one password differ (random salt)');
    assert.ok(!a.includes(password));
    assert.equal(needsRehash(a), false);
  });

  it('hashes at a configured cost, carried in the hash so it verifies whatever the setting later', async () => {
    const stored = await hashPassword('correct horse battery staple', 10);
    assert.match(stored, /^\$scrypt\$ln=10,r=8,p=3\$/);
    assert.equal(await verifyPassword('correct horse battery staple', stored), true);
    assert.equal(await verifyPassword('correct horse battery stapl', stored), false);
    assert.equal(needsRehash(stored), true, 'weaker than the default: rehashed at the next sign-in');
  });

  it('verifies the right password and refuses others', async () => {
    const stored = await hashPassword('correct horse battery staple');
    assert.equal(await verifyPassword('correct horse battery staple', stored), true);
    assert.equal(await verifyPassword('correct horse battery stapl', stored), false);
    assert.equal(await verifyPassword('', stored), false);
  });

  it('refuses unreadable or tampered hashes instead of trusting them', async () => {
    const stored = await hashPassword('correct horse battery staple');
    assert.equal(await verifyPassword('correct horse battery staple', 'plain-text-password'), false);
    // Parameters a tampered row could use to exhaust memory are refused, not run.
    assert.equal(await verifyPassword('correct horse battery staple', stored.replace('ln=15', 'ln=30')), false);
    assert.equal(needsRehash(stored.replace('ln=15', 'ln=14')), true);
  });
});

describe('password strength', () => {
  const refused = (password: string, pattern: RegExp, username?: string) => {
    assert.throws(() => checkPasswordStrength(password, { username }), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, 'weak_password');
      assert.match(error.userMessage, pattern);
      return true;
    });
  };

  it('refuses passwords under 12 characters, saying how long they must be', () => {
    refused('short', /has 5 characters and needs at least 12/);
    refused('elevenchars', /needs at least 12/);
    checkPasswordStrength('twelve chars');
  });

  it('refuses repeated characters and the username inside the password', () => {
    refused('aaaaaaaaaaaaaaaa', /too simple/);
    refused('my-alice-password', /contains the username/, 'alice');
  });
});
