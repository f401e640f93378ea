// What a simulated Twilio account looks like: credentials, owned numbers, money and delivery
// behaviour. Every default lives here, next to the option it belongs to.

const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const API_KEY_SID = /^SK[0-9a-fA-F]{32}$/;
const E164 = /^\+[1-9]\d{1,14}$/;

export interface SimulatorOptions {
  /** The account SID clients authenticate with: 'AC' + 32 hex. */
  accountSid: string;
  /** The auth token; also the key that signs status callbacks, as on Twilio. */
  authToken: string;
  /** API keys ('SK' + 32 hex SID and its secret), also accepted for Basic auth. */
  apiKeys?: { sid: string; secret: string }[];
  /** E.164 numbers the account owns; all are SMS, MMS and voice capable. */
  phoneNumbers: string[];
  /** Starting balance in USD. Default 15.00, Twilio's trial credit. */
  startingBalance?: number;
  /** Price of one SMS segment in USD. Default 0.0075 (US long code). */
  pricePerSegment?: number;
  /** Delay added to every API response, in ms. Default 0. */
  latencyMs?: number;
  /** Fraction (0..1) of accepted messages that end 'undelivered' (30003 or 30005). Default 0. */
  failureRate?: number;
  /** Destinations whose messages end 'undelivered' with 30003 (unreachable handset). */
  undeliverableNumbers?: string[];
  /** Destinations whose messages end 'failed' with 30008 (unknown error). */
  failedNumbers?: string[];
  /** Time between status steps (queued -> sending -> sent -> delivered), in ms. Default 200. */
  statusStepMs?: number;
  /** The account's friendly name. Default 'DominionTrust Simulator'. */
  friendlyName?: string;
  /** Shown on the account resource. Default 'Full'. */
  accountType?: 'Trial' | 'Full';
  /** Source of randomness for failureRate, so tests can decide outcomes. Default Math.random. */
  random?: () => number;
  /**
   * Where customer replies are posted (a number's "A message comes in" webhook), signed like
   * status callbacks; unset: replies are kept and shown, but posted nowhere.
   */
  inboundWebhookUrl?: string;
  /**
   * Messages kept (the inbox, message lookups); past it the oldest are forgotten, so a simulator
   * left running under load keeps a bounded memory. Default 50,000.
   */
  maxMessages?: number;
  /** Log requests and callback failures with Fastify's logger (never credentials). Default false. */
  logger?: boolean;
}

/** Options with every default filled in and amounts in integer micro-dollars. */
export interface ResolvedOptions {
  accountSid: string;
  authToken: string;
  apiKeys: { sid: string; secret: string }[];
  phoneNumbers: string[];
  startingBalanceMicros: number;
  pricePerSegmentMicros: number;
  latencyMs: number;
  failureRate: number;
  undeliverableNumbers: ReadonlySet<string>;
  failedNumbers: ReadonlySet<string>;
  statusStepMs: number;
  friendlyName: string;
  accountType: 'Trial' | 'Full';
  random: () => number;
  inboundWebhookUrl: string | undefined;
  maxMessages: number;
  logger: boolean;
}

/** Money is held in micro-dollars so repeated debits never drift the way float dollars do. */
export function usdToMicros(usd: number): number {
  return Math.round(usd * 1_000_000);
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw new Error(`Simulator option ${name} must be a number >= 0, got ${v}`);
  return v;
}

function inboundUrl(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`Simulator option inboundWebhookUrl must be an http(s) URL, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`Simulator option inboundWebhookUrl must be an http(s) URL, got "${value}"`);
  return value;
}

/** Fills in defaults and rejects options a real account could not have, naming the option. */
export function resolveOptions(options: SimulatorOptions): ResolvedOptions {
  if (!ACCOUNT_SID.test(options.accountSid)) {
    throw new Error("Simulator option accountSid must be 'AC' followed by 32 hex characters");
  }
  if (options.authToken.length === 0) throw new Error('Simulator option authToken must not be empty');
  for (const key of options.apiKeys ?? []) {
    if (!API_KEY_SID.test(key.sid)) throw new Error(`Simulator API key ${key.sid} must be 'SK' followed by 32 hex characters`);
    if (key.secret.length === 0) throw new Error(`Simulator API key ${key.sid} has an empty secret`);
  }
  for (const n of options.phoneNumbers) {
    if (!E164.test(n)) throw new Error(`Simulator phone number ${n} is not in E.164 form (e.g. +14155550100)`);
  }
  const failureRate = nonNegative('failureRate', options.failureRate, 0);
  if (failureRate > 1) throw new Error(`Simulator option failureRate must be between 0 and 1, got ${failureRate}`);
  return {
    accountSid: options.accountSid,
    authToken: options.authToken,
    apiKeys: [...(options.apiKeys ?? [])],
    phoneNumbers: [...new Set(options.phoneNumbers)],
    startingBalanceMicros: usdToMicros(nonNegative('startingBalance', options.startingBalance, 15)),
    pricePerSegmentMicros: usdToMicros(nonNegative('pricePerSegment', options.pricePerSegment, 0.0075)),
    latencyMs: nonNegative('latencyMs', options.latencyMs, 0),
    failureRate,
    undeliverableNumbers: new Set(options.undeliverableNumbers ?? []),
    failedNumbers: new Set(options.failedNumbers ?? []),
    statusStepMs: nonNegative('statusStepMs', options.statusStepMs, 200),
    friendlyName: options.friendlyName ?? 'DominionTrust Simulator',
    accountType: options.accountType ?? 'Full',
    random: options.random ?? Math.random,
    inboundWebhookUrl: inboundUrl(options.inboundWebhookUrl),
    maxMessages: Math.max(1, Math.floor(nonNegative('maxMessages', options.maxMessages, 50_000))),
    logger: options.logger ?? false,
  };
}
