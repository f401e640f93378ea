// The Twilio 2010-04-01 endpoints the simulator serves. Authentication and the account check
// happen before these handlers (see app.ts); each handler reads its input, calls the rules or
// the store, and answers in Twilio's JSON shape.
import type { FastifyInstance } from 'fastify';
import type { CredentialCheck } from './auth.ts';
import type { DeliveryClock } from './delivery.ts';
import { planOutcome } from './delivery.ts';
import type { FaultPlan } from './faults.ts';
import { accountJson, accountPath, balanceJson, incomingPhoneNumberJson, messageJson, phoneNumberSid } from './format.ts';
import { readMessageFilter } from './message-filters.ts';
import type { ResolvedOptions } from './options.ts';
import { paginate, readPageQuery } from './paging.ts';
import { param, readMessageRequest } from './rules.ts';
import type { FormParams } from './rules.ts';
import type { MessageStore } from './store.ts';
import { badRequest, notFoundError } from './twilio-error.ts';

export interface ApiContext {
  options: ResolvedOptions;
  store: MessageStore;
  clock: DeliveryClock;
  credentials: CredentialCheck;
  /** When the simulated account (and its numbers) came into being. */
  createdAt: Date;
  /** Customers who texted STOP to one of the numbers (see replies.ts). */
  optOuts: { isOptedOut(customer: string, sender: string): boolean };
  /** Refusals and undeliveries planned for chosen numbers (faults.ts). */
  faults: FaultPlan;
}

const ACCOUNT = '/2010-04-01/Accounts/:AccountSid';

/** Form bodies and query strings both arrive as name -> value(s); anything else reads as empty. */
export function formParams(value: unknown): FormParams {
  return value !== null && typeof value === 'object' ? (value as FormParams) : {};
}

/**
 * Twilio's PhoneNumber filter matches partial numbers, with '*' for any one digit, against the
 * digits of each number.
 */
function phoneNumberPattern(filter: string): RegExp {
  const digits = filter.replace(/[^\d*]/g, '').replace(/\*/g, '\\d');
  return new RegExp(digits);
}

export function registerApiRoutes(app: FastifyInstance, context: ApiContext): void {
  const { options, store, clock, credentials } = context;
  const base = accountPath(options.accountSid);

  app.get(`${ACCOUNT}.json`, async (request) => {
    // The auth token is shown only to a caller who used it, as Twilio does; never to API keys.
    const usedToken = credentials.check(request.headers.authorization) === 'auth-token';
    return accountJson({
      sid: options.accountSid,
      friendlyName: options.friendlyName,
      type: options.accountType,
      dateCreated: context.createdAt,
      authToken: usedToken ? options.authToken : null,
    });
  });

  app.get(`${ACCOUNT}/Balance.json`, async () => balanceJson(options.accountSid, store.balanceMicros));

  app.get(`${ACCOUNT}/IncomingPhoneNumbers.json`, async (request) => {
    const query = formParams(request.query);
    const filter = param(query, 'PhoneNumber');
    const pattern = filter ? phoneNumberPattern(filter) : null;
    const numbers = options.phoneNumbers.filter((n) => !pattern || pattern.test(n.replace(/\D/g, '')));
    const { items, envelope } = paginate(
      numbers,
      readPageQuery(query),
      { path: `${base}/IncomingPhoneNumbers.json`, filters: filter ? [['PhoneNumber', filter]] : [] },
      (n) => phoneNumberSid(options.accountSid, n),
    );
    return {
      ...envelope,
      incoming_phone_numbers: items.map((n) => incomingPhoneNumberJson(options.accountSid, n, context.createdAt)),
    };
  });

  app.post(`${ACCOUNT}/Messages.json`, async (request, reply) => {
    const messageRequest = readMessageRequest(formParams(request.body), options.phoneNumbers);
    // Twilio blocks a sender from a customer who texted it STOP until they text START.
    if (context.optOuts.isOptedOut(messageRequest.to, messageRequest.from)) {
      throw badRequest(21610, 'Attempt to send to unsubscribed recipient');
    }
    const refusal = context.faults.refusalFor(messageRequest.to);
    if (refusal) throw refusal;
    const planned = () => context.faults.outcomeFor(messageRequest.to) ?? planOutcome(messageRequest.to, options);
    const message = store.accept(messageRequest, planned, new Date());
    clock.start(message);
    return reply.code(201).send(messageJson(message));
  });

  app.get(`${ACCOUNT}/Messages.json`, async (request) => {
    const query = formParams(request.query);
    const filter = readMessageFilter(query);
    const matching = store.newestFirst().filter((m) => filter.matches(m));
    const { items, envelope } = paginate(
      matching,
      readPageQuery(query),
      { path: `${base}/Messages.json`, filters: filter.echo },
      (m) => m.sid,
    );
    return { ...envelope, messages: items.map(messageJson) };
  });

  app.get(`${ACCOUNT}/Messages/:MessageSid.json`, async (request) => {
    const { MessageSid } = request.params as { MessageSid: string };
    const message = store.get(MessageSid);
    if (!message) throw notFoundError(request.url);
    return messageJson(message);
  });
}
