// Password hashing and the strength rule: salted argon2id in a PHC string, verified in constant
// time; scrypt hashes from before still verify and are replaced at the next sign-in; weak
// passwords refused with a message a person can act on.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { AppError } from '../../src/errors.ts';
import { argon2MemoryKib, checkPasswordStrength, hashPassword, needsRehash, verifyPassword } from '../../src/users/passwords.ts';

/** A hash as the scrypt version stored it: `$scrypt$ln=15,r=8,p=3$<salt>$<key>`, base64url. */
function legacyScryptHash(password: string, ln = 15): string {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize('NFKC'), salt, 32, { N: 2 ** ln, r: 8, p: 3, maxmem: 256 * 2 ** ln * 8 + 16 * 1024 * 1024 });
  return `$scrypt$ln=${ln},r=8,p=3$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

describe('password hashing', () => {
  it("stores a salted argon2id hash at OWASP's minimum in PHC form, never the password", async () => {
    const password = 'correct horse battery staple';
    const [a, b] = await Promise.all([hashPassword(password), hashPassword(password)]);
    assert.match(a, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    assert.notEqual(a, b, 'two hashes of one password differ (random salt)');
    assert.ok(!a.includes(password));
    assert.equal(needsRehash(a), false);
    assert.equal(needsRehash(a, 15), false);
  });

  it('hashes at a configured cost, carried in the hash so it verifies whatever the setting later', async () => {
    assert.equal(argon2MemoryKib(10), 608);
    assert.equal(argon2MemoryKib(16), 38_912);
    const stored = await hashPassword('correct horse battery staple', 10);
    assert.match(stored, /^\$argon2id\$v=19\$m=608,t=2,p=1\$/);
    assert.equal(await verifyPassword('correct horse battery staple', stored), true);
    assert.equal(await verifyPassword('correct horse battery stapl', stored), false);
    assert.equal(needsRehash(stored), true, 'weaker than the default: rehashed at the next sign-in');
    assert.equal(needsRehash(stored, 10), false, 'as strong as the setting asks');
  });

  it('verifies the right password and refuses others', async () => {
    const stored = await hashPassword('correct horse battery staple');
    assert.equal(await verifyPassword('correct horse battery staple', stored), true);
    assert.equal(await verifyPassword('correct horse battery stapl', stored), false);
    assert.equal(await verifyPassword('', stored), false);
    // NFKC: the same password typed with a composed or a decomposed accent.
    const accented = await hashPassword('caf\u00e9 au lait tous les jours', 10);
    assert.equal(await verifyPassword('cafe\u0301 au lait tous les jours', accented), true);
  });

  it('still verifies a scrypt hash stored before argon2id, and asks for it to be replaced', async () => {
    const legacy = legacyScryptHash('correct horse battery staple', 10);
    assert.equal(await verifyPassword('correct horse battery staple', legacy), true);
    assert.equal(await verifyPassword('correct horse battery stapl', legacy), false);
    assert.equal(needsRehash(legacy, 10), true, 'any scrypt hash is replaced, whatever its cost');
    assert.equal(needsRehash(legacyScryptHash('correct horse battery staple', 15)), true);
  });

  it('refuses unreadable or tampered hashes instead of trusting them', async () => {
    const stored = await hashPassword('correct horse battery staple', 10);
    assert.equal(await verifyPassword('correct horse battery staple', 'plain-text-password'), false);
    assert.equal(needsRehash('plain-text-password'), true);
    // Parameters a tampered row could use to exhaust memory or CPU are refused, not run.
    assert.equal(await verifyPassword('correct horse battery staple', stored.replace('m=608', 'm=9999999')), false);
    assert.equal(await verifyPassword('correct horse battery staple', stored.replace('t=2', 't=99')), false);
    assert.equal(await verifyPassword('correct horse battery staple', stored.replace('p=1', 'p=64')), false);
    assert.equal(await verifyPassword('correct horse battery staple', stored.replace('m=608', 'm=4')), false);
    assert.equal(await verifyPassword('correct horse battery staple', legacyScryptHash('correct horse battery staple', 10).replace('ln=10', 'ln=30')), false);
    // A changed parameter is a different hash: the same password no longer matches.
    assert.equal(await verifyPassword('correct horse battery staple', stored.replace('t=2', 't=3')), false);
    assert.equal(needsRehash(stored.replace('t=2', 't=1'), 10), true);
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
