// HTTP Basic auth as Twilio does it: the account SID with the auth token, or an API key SID
// with its secret. Every credential is compared, in constant time, so neither the response time
// nor an early exit tells a caller which part was wrong.
import { createHash, timingSafeEqual } from 'node:crypto';

export type CredentialKind = 'auth-token' | 'api-key';

interface Credential {
  kind: CredentialKind;
  username: Buffer;
  secret: Buffer;
}

// Hashing first gives equal-length buffers, which timingSafeEqual requires, whatever was sent.
function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export class CredentialCheck {
  readonly #credentials: Credential[];

  constructor(accountSid: string, authToken: string, apiKeys: readonly { sid: string; secret: string }[]) {
    this.#credentials = [
      { kind: 'auth-token', username: digest(accountSid), secret: digest(authToken) },
      ...apiKeys.map((key) => ({ kind: 'api-key' as const, username: digest(key.sid), secret: digest(key.secret) })),
    ];
  }

  /** Which credential an Authorization header carries, or null if none matches. */
  check(header: string | undefined): CredentialKind | null {
    const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? '');
    if (!match?.[1]) return null;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    const username = digest(decoded.slice(0, colon));
    const secret = digest(decoded.slice(colon + 1));
    let found: CredentialKind | null = null;
    for (const credential of this.#credentials) {
      const userOk = timingSafeEqual(username, credential.username);
      const secretOk = timingSafeEqual(secret, credential.secret);
      if (userOk && secretOk && found === null) found = credential.kind;
    }
    return found;
  }
}
