// Incidents to rehearse: storms (429 with Retry-After and Twilio's 20429 body, 5xx, slow answers,
// connection resets) for a period, a number of requests or a fraction of them; chosen numbers
// refused or left undelivered with any Twilio code; chosen messages left silent (no status
// callback). Driven by the Simulator object (tests), POST /dev/faults/* (people, scripts) and
// `dominion twilio-sim` flags; all three go through FaultPlan so they behave the same.
import { z } from 'zod';
import type { Outcome } from './store.ts';
import { TwilioApiError } from './twilio-error.ts';

export const STORM_MODES = ['rate_limit', 'server_error', 'slow', 'reset'] as const;
export type StormMode = (typeof STORM_MODES)[number];

export const stormSchema = z.strictObject({
  /** rate_limit: 429 + Retry-After + 20429; server_error: 5xx; slow: answer late; reset: drop the connection. */
  mode: z.enum(STORM_MODES),
  /** Share of API requests hit, 0 < f <= 1. Default 1 (every request). */
  fraction: z.coerce.number().gt(0).max(1).default(1),
  /** The storm ends this many ms after it starts. Default: until calmed. */
  durationMs: z.coerce.number().int().positive().optional(),
  /** The storm ends after hitting this many requests. Default: no limit. */
  requests: z.coerce.number().int().positive().optional(),
  /** rate_limit: the Retry-After header, in seconds. Default 1. */
  retryAfterSeconds: z.coerce.number().int().min(0).max(3600).default(1),
  /** server_error: the HTTP status. Default 503. */
  status: z.coerce.number().int().min(500).max(599).default(503),
  /** slow: how late each hit answers, in ms. Default 5000. */
  delayMs: z.coerce.number().int().min(0).max(600_000).default(5000),
});
export type StormSettings = z.input<typeof stormSchema>;
type Storm = z.output<typeof stormSchema>;

const E164 = /^\+[1-9]\d{1,14}$/;
const TO = z.string().trim().regex(E164, 'must be an E.164 number, e.g. +14155552671');

export const refusalSchema = z.strictObject({
  /** Create requests to this number are refused. */
  to: TO,
  /** Twilio's error code, e.g. 21211. */
  code: z.coerce.number().int().min(10_000).max(99_999),
  /** HTTP status; default by code (20003/20005/10001: 401, 20404: 404, 20429: 429, 20500: 500, 20503: 503, else 400). */
  status: z.coerce.number().int().min(400).max(599).optional(),
  message: z.string().max(500).optional(),
});
export type RefusalSettings = z.input<typeof refusalSchema>;

export const undeliverySchema = z.strictObject({
  /** Messages to this number are accepted, then end undelivered / failed with `code`. */
  to: TO,
  code: z.coerce.number().int().min(10_000).max(99_999),
  status: z.enum(['undelivered', 'failed']).default('undelivered'),
});
export type UndeliverySettings = z.input<typeof undeliverySchema>;

export const silenceSchema = z.strictObject({
  /** A destination number (every message to it) or a message SID (SM + 32 hex). */
  target: z.string().trim().regex(/^(\+[1-9]\d{1,14}|SM[0-9a-fA-F]{32})$/, 'must be an E.164 number or a message SID'),
});

const DEFAULT_STATUS: Record<number, number> = { 20003: 401, 20005: 401, 10001: 401, 20404: 404, 20429: 429, 20500: 500, 20503: 503 };

/** What a storm does to one request. */
export type StormHit =
  | { mode: 'rate_limit'; retryAfterSeconds: number; error: TwilioApiError }
  | { mode: 'server_error'; error: TwilioApiError }
  | { mode: 'slow'; delayMs: number }
  | { mode: 'reset' };

/** The plan as GET /dev/faults shows it. */
export interface FaultState {
  storm: (Storm & { startedAt: string; hits: number }) | null;
  refusals: { to: string; code: number; status: number }[];
  undeliveries: { to: string; code: number; status: 'undelivered' | 'failed' }[];
  silent: string[];
}

export class FaultPlan {
  readonly #random: () => number;
  #storm: { settings: Storm; startedAt: number; hits: number } | null = null;
  readonly #refusals = new Map<string, { code: number; status: number; message: string }>();
  readonly #undeliveries = new Map<string, { code: number; status: 'undelivered' | 'failed' }>();
  readonly #silent = new Set<string>();

  constructor(random: () => number) {
    this.#random = random;
  }

  /** Starts a storm (replacing any other); throws a ZodError naming a bad setting. */
  storm(settings: StormSettings): void {
    this.#storm = { settings: stormSchema.parse(settings), startedAt: Date.now(), hits: 0 };
  }

  /** Ends the storm. */
  calm(): void {
    this.#storm = null;
  }

  /** What the storm does to this API request, or null when it passes untouched. */
  hit(now: number = Date.now()): StormHit | null {
    const storm = this.#storm;
    if (!storm) return null;
    const { settings } = storm;
    if ((settings.durationMs !== undefined && now - storm.startedAt >= settings.durationMs)
      || (settings.requests !== undefined && storm.hits >= settings.requests)) {
      this.#storm = null;
      return null;
    }
    if (settings.fraction < 1 && this.#random() >= settings.fraction) return null;
    storm.hits += 1;
    switch (settings.mode) {
      case 'rate_limit':
        return { mode: 'rate_limit', retryAfterSeconds: settings.retryAfterSeconds, error: new TwilioApiError(20429, 429, 'Too Many Requests') };
      case 'server_error': {
        const code = settings.status === 503 ? 20503 : 20500;
        return { mode: 'server_error', error: new TwilioApiError(code, settings.status, code === 20503 ? 'Service Unavailable' : 'Internal Server Error') };
      }
      case 'slow':
        return { mode: 'slow', delayMs: settings.delayMs };
      case 'reset':
        return { mode: 'reset' };
    }
  }

  /** Create requests to `to` are refused with Twilio's `code`. */
  refuse(settings: RefusalSettings): void {
    const r = refusalSchema.parse(settings);
    this.#refusals.set(r.to, { code: r.code, status: r.status ?? DEFAULT_STATUS[r.code] ?? 400, message: r.message ?? `Simulated Twilio error ${r.code} for ${r.to}` });
  }

  /** The refusal planned for a create request to `to`, if any. */
  refusalFor(to: string): TwilioApiError | undefined {
    const r = this.#refusals.get(to);
    return r && new TwilioApiError(r.code, r.status, r.message);
  }

  /** Messages to `to` are accepted, then end undelivered (or failed) with `code`. */
  undeliver(settings: UndeliverySettings): void {
    const u = undeliverySchema.parse(settings);
    this.#undeliveries.set(u.to, { code: u.code, status: u.status });
  }

  /** The planned end of a message to `to`, when a fault decides it. */
  outcomeFor(to: string): Outcome | undefined {
    const u = this.#undeliveries.get(to);
    return u && { status: u.status, errorCode: u.code };
  }

  /** No status callback for messages to this number, or for this message SID. */
  silence(target: string): void {
    this.#silent.add(silenceSchema.parse({ target }).target);
  }

  isSilent(message: { sid: string; to: string }): boolean {
    return this.#silent.has(message.sid) || this.#silent.has(message.to);
  }

  /** Back to a calm simulator with no planned faults. */
  clear(): void {
    this.#storm = null;
    this.#refusals.clear();
    this.#undeliveries.clear();
    this.#silent.clear();
  }

  state(): FaultState {
    const storm = this.#storm;
    return {
      storm: storm && { ...storm.settings, startedAt: new Date(storm.startedAt).toISOString(), hits: storm.hits },
      refusals: [...this.#refusals].map(([to, r]) => ({ to, code: r.code, status: r.status })),
      undeliveries: [...this.#undeliveries].map(([to, u]) => ({ to, ...u })),
      silent: [...this.#silent],
    };
  }
}

/** Delivery-error codes whose short text the simulator reports on the message, as Twilio does. */
export const DELIVERY_ERROR_MESSAGES: Record<number, string> = {
  30002: 'Account suspended',
  30003: 'Unreachable destination handset',
  30004: 'Message blocked',
  30005: 'Unknown destination handset',
  30006: 'Landline or unreachable carrier',
  30007: 'Message filtered',
  30008: 'Unknown error',
  30032: 'Toll-Free Number Has Not Been Verified',
  30034: 'Message from an Unregistered Number',
  30036: 'Validity Period Expired',
};
