// Voice calls, as Twilio's Calls API places them (POST /Accounts/{sid}/Calls.json, GET .../Calls/
// {sid}.json): the same auth and number rules as messages, TwiML given inline (Twiml) or by URL,
// a progression queued -> ringing -> in-progress -> completed (or busy / no-answer / failed for the
// numbers set to fail), a per-minute charge, and signed status callbacks for the events asked for
// in StatusCallbackEvent (only 'completed' when none is asked, as Twilio does). The inbox shows
// each call with the words its <Say> verbs speak.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { accountPath, API_VERSION, phoneFriendlyName, rfc2822 } from './format.ts';
import type { ResolvedOptions } from './options.ts';
import { param, type FormParams } from './rules.ts';
import { postSignedWebhook, type CallbackLog } from './status-callback.ts';
import { badRequest, notFoundError } from './twilio-error.ts';

export type CallStatus = 'queued' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'failed' | 'no-answer' | 'canceled';

export interface SimulatedCall {
  /** 'CA' + 32 hex. */
  sid: string;
  accountSid: string;
  to: string;
  from: string;
  status: CallStatus;
  /** The TwiML the call runs, as given (Twiml), or null when it was fetched from a Url. */
  twiml: string | null;
  url: string | null;
  /** What the call's <Say> verbs speak, in order, one line each. */
  spoken: string[];
  /** The language of the first <Say>, e.g. en-US. */
  language: string | null;
  durationSeconds: number | null;
  /** Negative USD, as Twilio shows a charge; null until the call ends. */
  price: number | null;
  dateCreated: Date;
  dateUpdated: Date;
  startTime: Date | null;
  endTime: Date | null;
  statusCallback: string | null;
  statusCallbackEvents: string[];
}

const E164 = /^\+[1-9]\d{1,14}$/;
const EVENTS = new Set(['initiated', 'ringing', 'answered', 'completed']);
/** Twilio's US outbound price per minute, billed per started minute. */
const PRICE_PER_MINUTE_USD = 0.014;
const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&apos;': "'", '&#39;': "'" };

/** The text of each <Say> of a TwiML document, and the language of the first. */
export function spokenText(twiml: string): { spoken: string[]; language: string | null } {
  const spoken: string[] = [];
  let language: string | null = null;
  for (const match of twiml.matchAll(/<Say\b([^>]*)>([\s\S]*?)<\/Say>/g)) {
    language ??= /language="([^"]+)"/.exec(match[1] ?? '')?.[1] ?? null;
    spoken.push((match[2] ?? '').replace(/<[^>]+>/g, '').replace(/&[a-z#0-9]+;/g, (e) => ENTITIES[e] ?? e).trim());
  }
  return { spoken, language };
}

export function callJson(call: SimulatedCall) {
  const path = `${accountPath(call.accountSid)}/Calls/${call.sid}`;
  const sub = ['notifications', 'recordings', 'payments', 'events', 'siprec', 'streams', 'transcriptions', 'user_defined_message_subscriptions', 'user_defined_messages'];
  return {
    account_sid: call.accountSid,
    answered_by: null,
    api_version: API_VERSION,
    caller_name: null,
    date_created: rfc2822(call.dateCreated),
    date_updated: rfc2822(call.dateUpdated),
    direction: 'outbound-api',
    duration: call.durationSeconds === null ? null : String(call.durationSeconds),
    end_time: call.endTime ? rfc2822(call.endTime) : null,
    forwarded_from: null,
    from: call.from,
    from_formatted: phoneFriendlyName(call.from),
    group_sid: null,
    parent_call_sid: null,
    phone_number_sid: null,
    price: call.price === null ? null : call.price.toFixed(5),
    price_unit: 'USD',
    sid: call.sid,
    start_time: call.startTime ? rfc2822(call.startTime) : null,
    status: call.status,
    subresource_uris: Object.fromEntries(sub.map((name) => [name, `${path}/${name.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase())}.json`])),
    to: call.to,
    to_formatted: phoneFriendlyName(call.to),
    trunk_sid: null,
    uri: `${path}.json`,
    queue_time: '0',
  };
}

/** The calls of the simulated account, newest last, with their progression and callbacks. */
export class CallBook {
  readonly #calls: SimulatedCall[] = [];
  readonly #bySid = new Map<string, SimulatedCall>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #closing = new AbortController();

  private readonly options: ResolvedOptions;
  private readonly log: CallbackLog;

  constructor(options: ResolvedOptions, log: CallbackLog) {
    this.options = options;
    this.log = log;
  }

  newestFirst(): SimulatedCall[] {
    return [...this.#calls].reverse();
  }

  get(sid: string): SimulatedCall | undefined {
    return this.#bySid.get(sid);
  }

  place(params: FormParams, ownNumbers: readonly string[], now: Date): SimulatedCall {
    const to = param(params, 'To');
    const from = param(params, 'From');
    if (!to) throw badRequest(21201, "No 'To' number is specified");
    if (!from) throw badRequest(21213, "No 'From' number is specified");
    if (!E164.test(to)) throw badRequest(21211, `The 'To' number ${to} is not a valid phone number.`);
    if (!ownNumbers.includes(from)) throw badRequest(21210, `The source phone number provided, ${from}, is not yet verified for your account.`);
    const twiml = param(params, 'Twiml') ?? null;
    const url = param(params, 'Url') ?? null;
    if (!twiml && !url) throw badRequest(21205, 'Url parameter is required.');
    const events = params.StatusCallbackEvent;
    const asked = (Array.isArray(events) ? events : events ? [events] : []).flatMap((e) => e.split(/[\s,]+/)).filter((e) => EVENTS.has(e));
    const call: SimulatedCall = {
      sid: `CA${randomBytes(16).toString('hex')}`, accountSid: this.options.accountSid, to, from, status: 'queued',
      twiml, url, ...(twiml ? spokenText(twiml) : { spoken: [`(TwiML fetched from ${url})`], language: null }),
      durationSeconds: null, price: null, dateCreated: now, dateUpdated: now, startTime: null, endTime: null,
      statusCallback: param(params, 'StatusCallback') ?? null, statusCallbackEvents: asked.length ? asked : ['completed'],
    };
    this.#calls.push(call);
    this.#bySid.set(call.sid, call);
    if (this.#calls.length > this.options.maxMessages) this.#bySid.delete(this.#calls.shift()!.sid);
    this.#notify(call, 'initiated');
    this.#progress(call);
    return call;
  }

  #progress(call: SimulatedCall): void {
    const failing = this.options.failedNumbers.has(call.to);
    const unanswered = this.options.undeliverableNumbers.has(call.to);
    const steps: (() => void)[] = [
      () => this.#move(call, failing ? 'failed' : 'ringing', failing ? 'completed' : 'ringing'),
      () => this.#move(call, unanswered ? 'no-answer' : 'in-progress', unanswered ? 'completed' : 'answered'),
      () => this.#move(call, 'completed', 'completed'),
    ];
    const next = (i: number) => {
      if (i >= steps.length || this.#closing.signal.aborted || ['failed', 'no-answer', 'completed'].includes(call.status)) return;
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        steps[i]!();
        next(i + 1);
      }, this.options.statusStepMs);
      timer.unref();
      this.#timers.add(timer);
    };
    next(0);
  }

  #move(call: SimulatedCall, status: CallStatus, event: string): void {
    const now = new Date();
    call.status = status;
    call.dateUpdated = now;
    if (status === 'in-progress') call.startTime = now;
    if (status === 'completed' || status === 'failed' || status === 'no-answer') {
      call.endTime = now;
      if (status === 'completed') {
        // A code read twice takes about 20 seconds; billed per started minute.
        call.durationSeconds = 20;
        call.price = -PRICE_PER_MINUTE_USD * Math.ceil(call.durationSeconds / 60);
      } else {
        call.durationSeconds = 0;
        call.price = 0;
      }
    }
    this.#notify(call, event);
  }

  #notify(call: SimulatedCall, event: string): void {
    if (!call.statusCallback || !call.statusCallbackEvents.includes(event) || this.#closing.signal.aborted) return;
    const params: Record<string, string> = {
      AccountSid: call.accountSid, ApiVersion: API_VERSION, CallSid: call.sid, CallStatus: event === 'initiated' ? 'initiated' : call.status,
      Direction: 'outbound-api', From: call.from, To: call.to, Timestamp: rfc2822(new Date()), SequenceNumber: String(['initiated', 'ringing', 'answered', 'completed'].indexOf(event)),
      ...(call.durationSeconds !== null && { CallDuration: String(call.durationSeconds), Duration: String(Math.ceil(call.durationSeconds / 60)) }),
    };
    const url = call.statusCallback;
    const signal = AbortSignal.any([this.#closing.signal, AbortSignal.timeout(10_000)]);
    void postSignedWebhook(this.options.authToken, url, params, signal)
      .then(async (response) => {
        await response.body?.cancel();
        if (!response.ok) this.log.warn({ url, callSid: call.sid, status: response.status }, 'call status callback answered with an error status');
      })
      .catch((error: unknown) => {
        if (!this.#closing.signal.aborted) this.log.warn({ url, callSid: call.sid, error: String(error) }, 'call status callback could not be delivered');
      });
  }

  close(): void {
    this.#closing.abort();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}

export function registerCallRoutes(app: FastifyInstance, book: CallBook, ownNumbers: readonly string[]): void {
  app.post('/2010-04-01/Accounts/:AccountSid/Calls.json', async (request, reply) => {
    const params = (request.body !== null && typeof request.body === 'object' ? request.body : {}) as FormParams;
    return reply.code(201).send(callJson(book.place(params, ownNumbers, new Date())));
  });
  app.get('/2010-04-01/Accounts/:AccountSid/Calls/:CallSid.json', async (request) => {
    const { CallSid } = request.params as { CallSid: string };
    const call = book.get(CallSid);
    if (!call) throw notFoundError(request.url);
    return callJson(call);
  });
}
