// Whether a webhook is provably from Twilio, and with which auth token: X-Twilio-Signature is an
// HMAC-SHA1 (keyed with the auth token) of the URL Twilio was given and, for form bodies, the
// sorted parameters; for other bodies (JSON) the URL carries bodySHA256 and the body is hashed
// instead. The URL is always PUBLIC_BASE_URL plus the path and query asked for, never the Host or
// X-Forwarded-* headers a proxy passes on (a caller controls those). During a rotation
// TWILIO_AUTH_TOKEN_PREVIOUS is tried too, and which token signed is recorded by fingerprint so
// --check-setup can say when the old one may go.
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import twilio from 'twilio';
import type { Config } from '../config.ts';
import type { Queryable } from '../db/connection.ts';
import { twilioWebhookSigners } from '../db/schema.ts';

export type FormParams = Record<string, string | string[]>;

export interface SignedWebhook {
  /** The path and query string as asked for (request.url). */
  path: string;
  signature: string | undefined;
  /** Parsed form parameters (form bodies), else {}. */
  params: FormParams;
  /** The body as received, for bodySHA256 requests. */
  rawBody: string;
}

export type SigningToken = 'current' | 'previous';

export type SignatureVerdict = { ok: true; token: SigningToken } | { ok: false; problem: string };

/** The URL Twilio signed: the configured public origin plus the path asked for. */
export function signedUrl(config: Pick<Config, 'publicBaseUrl'>, path: string): string {
  return `${config.publicBaseUrl ?? ''}${path}`;
}

/**
 * The URL as Twilio signed it, and as a proxy or HTTP client may have re-encoded it: a single
 * quote, legal in a query, often arrives as %27 (the SDK compares the text exactly).
 */
function urlForms(url: string): string[] {
  const unescaped = url.replace(/%27/gi, "'");
  return unescaped === url ? [url] : [url, unescaped];
}

function validWith(token: string, webhook: SignedWebhook, url: string): boolean {
  return urlForms(url).some((form) => validForm(token, webhook, form));
}

function validForm(token: string, webhook: SignedWebhook, url: string): boolean {
  const signature = webhook.signature ?? '';
  // Twilio signs a non-form body by its SHA-256 in the URL; the parameters are then not signed.
  if (new URL(url).searchParams.has('bodySHA256')) return twilio.validateRequestWithBody(token, signature, url, webhook.rawBody);
  return twilio.validateRequest(token, signature, url, webhook.params);
}

/** Checks the signature with the current token, then the previous one (while it is set). */
export function checkWebhookSignature(config: Pick<Config, 'publicBaseUrl' | 'twilio'>, webhook: SignedWebhook): SignatureVerdict {
  const { authToken, previousAuthToken } = config.twilio;
  if (config.publicBaseUrl === undefined) return { ok: false, problem: 'Webhooks are off: set PUBLIC_BASE_URL to the URL Twilio reaches this server at.' };
  if (authToken === '') return { ok: false, problem: 'TWILIO_AUTH_TOKEN is not set, so Twilio signatures cannot be checked.' };
  if (!webhook.signature) return { ok: false, problem: 'X-Twilio-Signature is missing.' };
  const url = signedUrl(config, webhook.path);
  if (validWith(authToken, webhook, url)) return { ok: true, token: 'current' };
  if (previousAuthToken && validWith(previousAuthToken, webhook, url)) return { ok: true, token: 'previous' };
  return { ok: false, problem: 'X-Twilio-Signature does not match: check PUBLIC_BASE_URL (the exact URL set in Twilio) and TWILIO_AUTH_TOKEN.' };
}

/** A token's fingerprint: enough to tell tokens apart, useless for signing. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(`twilio-webhook-signer\n${token}`).digest('hex').slice(0, 16);
}

/** Counts a webhook signed with `token` (one upsert). */
export async function recordWebhookSigner(db: Queryable, token: string, now: Date): Promise<void> {
  const fingerprint = tokenFingerprint(token);
  await db.insert(twilioWebhookSigners).values({ tokenFingerprint: fingerprint, firstSeenAt: now, lastSeenAt: now, callbacks: 1 })
    .onConflictDoUpdate({ target: twilioWebhookSigners.tokenFingerprint, set: { lastSeenAt: now, callbacks: sql`${twilioWebhookSigners.callbacks} + 1` } });
}

export interface SignerSeen {
  lastSeenAt: Date;
  callbacks: number;
}

/** When each configured token last signed a webhook (undefined: never, as far as this database knows). */
export async function webhookSigners(db: Queryable, config: Pick<Config, 'twilio'>): Promise<{ current?: SignerSeen; previous?: SignerSeen }> {
  const rows = await db.select().from(twilioWebhookSigners);
  const find = (token: string | undefined) => {
    if (!token) return undefined;
    const row = rows.find((r) => r.tokenFingerprint === tokenFingerprint(token));
    return row && { lastSeenAt: row.lastSeenAt, callbacks: row.callbacks };
  };
  return { current: find(config.twilio.authToken), previous: find(config.twilio.previousAuthToken) };
}
