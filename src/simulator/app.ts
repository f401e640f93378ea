// Wires the simulator into a Fastify app: form parsing, latency, authentication, the account
// check, Twilio-shaped errors for everything (unknown paths and framework errors included), the
// API routes and the inbox. buildSimulatorApp never listens, so tests can inject() into it.
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { registerApiRoutes } from './api-routes.ts';
import { CallBook, registerCallRoutes, type SimulatedCall } from './calls.ts';
import { CredentialCheck } from './auth.ts';
import { DeliveryClock } from './delivery.ts';
import { FaultPlan, type FaultState, type RefusalSettings, type StormSettings, type UndeliverySettings } from './faults.ts';
import { registerFaultRoutes } from './fault-routes.ts';
import { registerInboxRoutes } from './inbox.ts';
import { resolveOptions, usdToMicros } from './options.ts';
import { registerReplyRoutes, ReplyBook, type CustomerReply } from './replies.ts';
import type { SimulatorOptions } from './options.ts';
import { StatusCallbackSender } from './status-callback.ts';
import { MessageStore, publicCopy } from './store.ts';
import type { SimulatedMessage } from './store.ts';
import { TwilioApiError, authenticateError, notFoundError, twilioErrorBody } from './twilio-error.ts';
import type { FormParams } from './rules.ts';

/** What a test or the CLI can see and change in a running simulator, besides its HTTP API. */
export interface SimulatorState {
  /** The developer's inbox, newest first (copies: changing them changes nothing). */
  messages(): SimulatedMessage[];
  /**
   * Calls `listener` with each message accepted from now on, as it is accepted (a copy); returns
   * what stops it. For a watcher of a long run, where copying the whole inbox per look would cost
   * more than the sends it watches.
   */
  onMessage(listener: (message: SimulatedMessage) => void): () => void;
  /** The account balance in USD. */
  balance(): number;
  setBalance(usd: number): void;
  /** Messages customers texted to the account's numbers (POST /dev/reply), newest first. */
  replies(): CustomerReply[];
  /** Voice calls placed through the Calls API, newest first, with what each one spoke. */
  calls(): SimulatedCall[];
  /** Starts a storm on the API (replacing any other): see faults.ts. */
  storm(settings: StormSettings): void;
  /** Ends the storm. */
  calm(): void;
  /** Create requests to `to` are refused with a Twilio error code. */
  refuse(settings: RefusalSettings): void;
  /** Messages to `to` are accepted, then end undelivered (or failed) with a Twilio error code. */
  undeliver(settings: UndeliverySettings): void;
  /** No status callback for messages to this number, or for this message SID. */
  silence(target: string): void;
  /** Removes every storm, refusal, undelivery and silence. */
  clearFaults(): void;
  faults(): FaultState;
  /** Every API request received, oldest first, with what it was answered (see ApiRequest). */
  requests(): ApiRequest[];
}

/** One request to the 2010-04-01 API as the simulator saw it: what storms did and what got through. */
export interface ApiRequest {
  /** When it arrived (epoch ms). */
  at: number;
  method: string;
  /** The path, without the query. */
  path: string;
  /** The HTTP status answered, or 'reset' when a storm dropped the connection. */
  outcome: number | 'reset';
  /** The Retry-After answered with a 429, in seconds. */
  retryAfterSeconds?: number;
}

const API_PREFIX = '/2010-04-01/';
const states = new WeakMap<FastifyInstance, SimulatorState>();

/** The state behind an app made by buildSimulatorApp. */
export function simulatorStateOf(app: FastifyInstance): SimulatorState {
  const state = states.get(app);
  if (!state) throw new Error('This Fastify app was not made by buildSimulatorApp');
  return state;
}

/** Twilio only reads form parameters; any body parses as a form, so JSON or junk reads as empty. */
function parseForm(body: string): FormParams {
  const params: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(body)) {
    const previous = params[name];
    if (previous === undefined) params[name] = value;
    else params[name] = Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return params;
}

// Errors Fastify raises itself (oversized body, bad URL) carry no Twilio code; 20000 + status
// follows Twilio's own pattern (20404, 20429, 20500). 5xx details stay in the log.
function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof TwilioApiError) return reply.code(error.status).send(error.toBody());
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const message = error instanceof Error ? error.message : 'Bad Request';
    return reply.code(status).send(twilioErrorBody(20000 + status, status, message));
  }
  request.log.error({ err: error }, 'simulator request failed');
  return reply.code(500).send(twilioErrorBody(20500, 500, 'Internal Server Error'));
}

export function buildSimulatorApp(simulatorOptions: SimulatorOptions): FastifyInstance {
  const options = resolveOptions(simulatorOptions);
  const app = Fastify({
    logger: options.logger,
    frameworkErrors: (error, request, reply) => {
      sendError(error, request, reply);
    },
  });
  const store = new MessageStore(options.accountSid, options.startingBalanceMicros, options.pricePerSegmentMicros, options.maxMessages);
  const credentials = new CredentialCheck(options.accountSid, options.authToken, options.apiKeys);
  const callbacks = new StatusCallbackSender(options.authToken, app.log);
  const book = new ReplyBook();
  const calls = new CallBook(options, app.log);
  const closing = new AbortController();
  const faults = new FaultPlan(options.random);
  const clock = new DeliveryClock(options.statusStepMs, (message, change) => {
    store.apply(message, change, new Date());
    if (message.statusCallback && !faults.isSilent(message)) void callbacks.send(message.statusCallback, message);
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    done(null, parseForm(typeof body === 'string' ? body : body.toString('utf8')));
  });

  // Twilio authenticates before anything else, so even unknown API paths answer 401 first.
  const requests: ApiRequest[] = [];
  const seen = new WeakMap<FastifyRequest, ApiRequest>();
  const answerLate = new WeakMap<FastifyRequest, number>();
  app.addHook('onSend', async (request, _reply, payload) => {
    const delayMs = answerLate.get(request);
    if (delayMs) await sleep(delayMs);
    return payload;
  });
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith(API_PREFIX)) return;
    const seenAs: ApiRequest = { at: Date.now(), method: request.method, path: request.url.split('?')[0] ?? request.url, outcome: 0 };
    requests.push(seenAs);
    if (requests.length > options.maxMessages * 4) requests.splice(0, requests.length - options.maxMessages * 4);
    seen.set(request, seenAs);
    // A storm hits before authentication, as an overloaded edge would.
    const hit = faults.hit();
    if (hit?.mode === 'reset') {
      seenAs.outcome = 'reset';
      request.raw.socket.destroy();
      return reply.hijack();
    }
    if (hit?.mode === 'rate_limit') {
      seenAs.retryAfterSeconds = hit.retryAfterSeconds;
      return reply.code(429).header('Retry-After', String(hit.retryAfterSeconds)).send(hit.error.toBody());
    }
    if (hit?.mode === 'server_error') return reply.code(hit.error.status).send(hit.error.toBody());
    // Slow: the request is carried out at once and answered late, so a client that gives up
    // first has still sent the message (as with Twilio, a timeout says nothing about the outcome).
    if (hit?.mode === 'slow') answerLate.set(request, hit.delayMs);
    if (options.latencyMs > 0) await sleep(options.latencyMs);
    if (credentials.check(request.headers.authorization) === null) throw authenticateError();
    const { AccountSid } = (request.params ?? {}) as { AccountSid?: string };
    if (AccountSid !== undefined && AccountSid !== options.accountSid) throw notFoundError(request.url);
  });
  app.addHook('onResponse', async (request, reply) => {
    const seenAs = seen.get(request);
    if (seenAs) seenAs.outcome = reply.statusCode;
  });
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => reply.code(404).send(notFoundError(request.url).toBody()));
  app.addHook('onClose', async () => {
    clock.stop();
    callbacks.close();
    calls.close();
    closing.abort();
  });

  registerApiRoutes(app, { options, store, clock, credentials, createdAt: new Date(), optOuts: book, faults });
  registerCallRoutes(app, calls, options.phoneNumbers);
  registerFaultRoutes(app, faults);
  registerInboxRoutes(app, store, book, options.phoneNumbers, calls);
  registerReplyRoutes(app, { options, store, clock, book, closing: closing.signal });

  states.set(app, {
    messages: () => store.newestFirst().map(publicCopy),
    onMessage: (listener) => store.onAccepted(listener),
    balance: () => store.balanceMicros / 1_000_000,
    setBalance: (usd) => {
      if (!Number.isFinite(usd)) throw new Error(`Simulator balance must be a finite number of USD, got ${usd}`);
      store.setBalanceMicros(usdToMicros(usd));
    },
    replies: () => book.newestFirst().map((r) => ({ ...r, replies: [...r.replies] })),
    calls: () => calls.newestFirst().map((c) => ({ ...c, spoken: [...c.spoken], statusCallbackEvents: [...c.statusCallbackEvents] })),
    storm: (settings) => faults.storm(settings),
    calm: () => faults.calm(),
    refuse: (settings) => faults.refuse(settings),
    undeliver: (settings) => faults.undeliver(settings),
    silence: (target) => faults.silence(target),
    clearFaults: () => faults.clear(),
    faults: () => faults.state(),
    requests: () => requests.map((r) => ({ ...r })),
  });
  return app;
}
