// The SMS provider port implemented with the official twilio SDK. Every call goes through the SDK,
// whether the base URL is Twilio's or the built-in simulator's, so what the tests exercise is what
// production runs; every failure leaves as an SmsProviderError with an operator-friendly message.
import { AsyncLocalStorage } from 'node:async_hooks';
import http from 'node:http';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import type * as TwilioResponse from 'twilio/lib/http/response.js';
import type { MessageInstance } from 'twilio/lib/rest/api/v2010/account/message.js';
import type { IncomingPhoneNumberInstance } from 'twilio/lib/rest/api/v2010/account/incomingPhoneNumber.js';
import { AppError } from '../errors.ts';
import type {
  CallRequest, MessageStatus, PlacedCall, ProviderAccount, ProviderBalance, SenderNumber, SendRequest, SentMessage, SmsProvider,
} from './provider.ts';
import { SmsProviderError } from './provider.ts';
import { analyseSmsBody } from './segments.ts';
import { classifyTwilioFailure } from './twilio-errors.ts';

export type TwilioAuth =
  | { kind: 'token'; authToken: string }
  | { kind: 'apiKey'; apiKeySid: string; apiKeySecret: string };

export interface TwilioProviderOptions {
  accountSid: string;
  auth: TwilioAuth;
  /** Where the 2010-04-01 API lives; the simulator's URL in simulator mode. */
  apiBaseUrl?: string;
  /** Per-request timeout; also the socket timeout of the keep-alive agents. */
  timeoutMs?: number;
}

/** Twilio's own API origin: the SDK builds every URL on it. */
export const TWILIO_API_BASE_URL = 'https://api.twilio.com';
export const DEFAULT_TWILIO_TIMEOUT_MS = 10_000;

/** What the request client saw during one provider call, for classifying its failure. */
interface CallRecord {
  url: string | null;
  retryAfter: string | null;
}

// The SDK's RestException drops the response headers (so Retry-After), and its network errors
// carry the URL inside an object holding our credentials. Each provider call runs in its own
// store, so concurrent calls never read each other's response.
const currentCall = new AsyncLocalStorage<CallRecord>();

function headerValue(headers: unknown, name: string): string | null {
  if (typeof headers !== 'object' || headers === null) return null;
  const getter = (headers as { get?: unknown }).get;
  const value: unknown = typeof getter === 'function'
    ? (getter as (key: string) => unknown).call(headers, name)
    : (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null;
}

/**
 * The SDK's request client with two additions: URLs on Twilio's origin are moved to apiBaseUrl
 * (the SDK has no base-URL option; next_page_uri links come through here too), and plain-http
 * simulators get the same keep-alive agent and socket timeout the SDK gives https.
 */
class RebasedRequestClient extends twilio.RequestClient {
  readonly #base: string | null;

  constructor(apiBaseUrl: string, timeoutMs: number) {
    super({ keepAlive: true, timeout: timeoutMs });
    const base = apiBaseUrl.replace(/\/+$/, '');
    this.#base = base === TWILIO_API_BASE_URL ? null : base;
    this.axios.defaults.httpAgent = new http.Agent({ keepAlive: true, timeout: timeoutMs });
  }

  override async request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<TwilioResponse.default<TData>> {
    const uri = this.rebase(opts.uri);
    const record = currentCall.getStore();
    if (record !== undefined) {
      record.url = uri;
      record.retryAfter = null;
    }
    const response = await super.request({ ...opts, uri });
    if (record !== undefined && response.statusCode >= 400) {
      record.retryAfter = headerValue(response.headers, 'retry-after');
    }
    return response;
  }

  private rebase(uri: string): string {
    if (this.#base === null) return uri;
    const url = new URL(uri);
    // TWILIO_EDGE / TWILIO_REGION can turn api.twilio.com into api.<edge>.<region>.twilio.com.
    if (url.hostname !== 'twilio.com' && !url.hostname.endsWith('.twilio.com')) return uri;
    return `${this.#base}${url.pathname}${url.search}`;
  }
}

function configError(message: string): AppError {
  return new AppError('config_invalid', message);
}

function checkOptions(options: TwilioProviderOptions): { baseUrl: string; timeoutMs: number } {
  if (!/^AC[0-9a-zA-Z]{32}$/.test(options.accountSid)) {
    throw configError('TWILIO_ACCOUNT_SID must be AC followed by 32 letters/digits, as shown on console.twilio.com (Account Info).');
  }
  if (options.auth.kind === 'token' && options.auth.authToken.trim() === '') {
    throw configError('TWILIO_AUTH_TOKEN is empty: copy it from console.twilio.com (Account Info).');
  }
  if (options.auth.kind === 'apiKey') {
    if (!options.auth.apiKeySid.startsWith('SK')) throw configError('The Twilio API key SID must start with SK.');
    if (options.auth.apiKeySecret.trim() === '') throw configError('The Twilio API key secret is empty.');
  }
  const baseUrl = options.apiBaseUrl ?? TWILIO_API_BASE_URL;
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw configError(`TWILIO_API_BASE_URL "${baseUrl}" is not a URL; use e.g. ${TWILIO_API_BASE_URL}.`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw configError(`TWILIO_API_BASE_URL must start with https:// or http://, got "${baseUrl}".`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TWILIO_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw configError(`The Twilio timeout must be a positive number of milliseconds, got ${timeoutMs}.`);
  return { baseUrl, timeoutMs };
}

const KNOWN_STATUSES: ReadonlySet<string> = new Set<MessageStatus>([
  'accepted', 'scheduled', 'queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed',
  'receiving', 'received', 'read', 'canceled',
]);

function toMessageStatus(status: string): MessageStatus {
  if (KNOWN_STATUSES.has(status)) return status as MessageStatus;
  // partially_delivered (multi-part MMS/RCS) and any future status: the carrier has it, delivery
  // is not confirmed; 'sent' keeps it out of the final states without claiming delivery.
  return 'sent';
}

function toDate(value: Date | null | undefined): Date | null {
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value : null;
}

/** Twilio reports charges as negative strings ("-0.00790"); the port wants a positive amount. */
function toPrice(value: string | null | undefined): number | null {
  if (value === null || value === undefined || value.trim() === '') return null;
  const amount = Number(value);
  return Number.isFinite(amount) ? Math.abs(amount) : null;
}

function toSegments(numSegments: string | null | undefined, body: string | null | undefined): number {
  const parsed = Number.parseInt(numSegments ?? '', 10);
  if (Number.isInteger(parsed) && parsed >= 0) return parsed;
  // Not yet counted by Twilio: count the body the same way Twilio will.
  return body === null || body === undefined ? 0 : analyseSmsBody(body, { pricePerSegment: 0 }).segments;
}

function toSentMessage(m: MessageInstance): SentMessage {
  return {
    sid: m.sid,
    status: toMessageStatus(m.status),
    to: m.to,
    from: m.from ?? null,
    segments: toSegments(m.numSegments, m.body),
    price: toPrice(m.price),
    priceUnit: m.priceUnit ?? null,
    errorCode: typeof m.errorCode === 'number' ? m.errorCode : null,
    errorMessage: m.errorMessage ?? null,
    dateCreated: toDate(m.dateCreated),
    dateSent: toDate(m.dateSent),
    dateUpdated: toDate(m.dateUpdated),
  };
}

function toSenderNumber(n: IncomingPhoneNumberInstance): SenderNumber {
  // Twilio spells these keys lower-case in JSON, upper-case (SMS, MMS) on some older resources.
  const caps = (n.capabilities ?? {}) as Partial<Record<string, unknown>>;
  const has = (key: string): boolean => caps[key] === true || caps[key.toUpperCase()] === true;
  return {
    sid: n.sid,
    phoneNumber: n.phoneNumber,
    friendlyName: n.friendlyName,
    capabilities: { sms: has('sms'), mms: has('mms'), voice: has('voice') },
  };
}

/** Creates the Twilio SMS provider. Throws AppError 'config_invalid' for unusable options. */
export function createTwilioProvider(options: TwilioProviderOptions): SmsProvider {
  const { baseUrl, timeoutMs } = checkOptions(options);
  const { accountSid, auth } = options;
  const httpClient = new RebasedRequestClient(baseUrl, timeoutMs);
  const client = auth.kind === 'token'
    ? twilio(accountSid, auth.authToken, { httpClient, accountSid })
    : twilio(auth.apiKeySid, auth.apiKeySecret, { httpClient, accountSid });
  const account = client.api.v2010.accounts(accountSid);
  const secrets = auth.kind === 'token' ? [auth.authToken] : [auth.apiKeySecret];

  async function call<T>(operation: () => Promise<T>): Promise<T> {
    const record: CallRecord = { url: null, retryAfter: null };
    try {
      return await currentCall.run(record, operation);
    } catch (error) {
      throw classifyTwilioFailure(error, { ...record, timeoutMs, secrets });
    }
  }

  return {
    name: 'twilio',

    send: (request: SendRequest) => call(async () => {
      const message = await account.messages.create({
        to: request.to,
        body: request.body,
        ...(request.messagingServiceSid !== undefined
          ? { messagingServiceSid: request.messagingServiceSid }
          : request.from !== undefined ? { from: request.from } : {}),
        ...(request.statusCallback !== undefined ? { statusCallback: request.statusCallback } : {}),
        ...(request.validityPeriodSeconds !== undefined ? { validityPeriod: request.validityPeriodSeconds } : {}),
      });
      return toSentMessage(message);
    }),

    placeCall: (request: CallRequest) => call(async (): Promise<PlacedCall> => {
      const placed = await account.calls.create({
        to: request.to,
        from: request.from,
        twiml: request.twiml,
        ...(request.statusCallback !== undefined && {
          statusCallback: request.statusCallback,
          statusCallbackMethod: 'POST',
          statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
        }),
        ...(request.ringSeconds !== undefined && { timeout: request.ringSeconds }),
      });
      const duration = Number.parseInt(placed.duration ?? '', 10);
      return {
        sid: placed.sid,
        status: placed.status,
        to: placed.to,
        from: placed.from ?? null,
        price: toPrice(placed.price),
        durationSeconds: Number.isInteger(duration) ? duration : null,
      };
    }),

    fetchMessage: (sid: string) => call(async () => toSentMessage(await account.messages(sid).fetch())),

    listMessagesTo: (to: string, limit: number) => call(async () => {
      const listed = await account.messages.list({ to, limit, pageSize: Math.min(limit, 1000) });
      return listed.map((m) => ({ ...toSentMessage(m), body: m.body }));
    }),

    fetchAccount: () => call(async (): Promise<ProviderAccount> => {
      const fetched = await account.fetch();
      return {
        sid: fetched.sid,
        friendlyName: fetched.friendlyName,
        status: fetched.status,
        type: fetched.type,
        dateCreated: toDate(fetched.dateCreated),
      };
    }),

    fetchBalance: () => call(async (): Promise<ProviderBalance> => {
      const fetched = await account.balance.fetch();
      const balance = Number(fetched.balance);
      if (!Number.isFinite(balance)) {
        throw new SmsProviderError({ kind: 'permanent', message: `Twilio returned an unreadable balance: "${String(fetched.balance)}".` });
      }
      return { balance, currency: fetched.currency };
    }),

    listSenderNumbers: () => call(async () => {
      const numbers = await account.incomingPhoneNumbers.list({ pageSize: 100 });
      return numbers.map(toSenderNumber);
    }),
  };
}
