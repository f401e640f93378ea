// Customer replies: a developer texts one of the account's numbers as a customer would (POST
// /dev/reply, or the reply box of the inbox). Like Twilio, the simulator handles the opt-out
// keywords of long codes itself (after STOP, sends from that number to that customer fail with
// 21610 and Twilio's confirmation is texted back; START lifts it), then posts the message to the
// inbound webhook URL (the number's "A message comes in" URL) signed with X-Twilio-Signature,
// and texts back whatever <Message> the TwiML answer holds.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { DeliveryClock } from './delivery.ts';
import { planOutcome } from './delivery.ts';
import { API_VERSION } from './format.ts';
import type { ResolvedOptions } from './options.ts';
import { param, type FormParams } from './rules.ts';
import { postSignedWebhook } from './status-callback.ts';
import type { MessageStore } from './store.ts';
import { badRequest } from './twilio-error.ts';

const E164 = /^\+[1-9]\d{1,14}$/;
const WEBHOOK_TIMEOUT_MS = 10_000;
const BODY_LIMIT = 1600;

/** Twilio's default keywords on long codes (whole message, any case). */
const OPT_OUT = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT']);
const OPT_IN = new Set(['START', 'YES', 'UNSTOP']);

/** Twilio's default confirmations, sent by Twilio itself whatever the webhook answers. */
export const TWILIO_OPT_OUT_REPLY = 'You have successfully been unsubscribed. You will not receive any more messages from this number. Reply START to resubscribe.';
export const TWILIO_OPT_IN_REPLY = 'You have successfully been re-subscribed to messages from this number. Reply HELP for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply.';

export interface CustomerReply {
  /** 'SM' + 32 hex, as the webhook's MessageSid. */
  sid: string;
  /** The customer's number. */
  from: string;
  /** The account's number texted. */
  to: string;
  body: string;
  dateCreated: Date;
  /** The webhook's HTTP status, or null when none is configured or it could not be reached. */
  webhookStatus: number | null;
  webhookError: string | null;
  /** Texts sent back to the customer: Twilio's own confirmation and the webhook's <Message>s. */
  replies: string[];
}

/** Received replies (newest last) and the opt-outs Twilio keeps per customer and sender number. */
export class ReplyBook {
  readonly replies: CustomerReply[] = [];
  readonly #optedOut = new Set<string>();

  isOptedOut(customer: string, sender: string): boolean {
    return this.#optedOut.has(`${customer} ${sender}`);
  }

  /** Applies Twilio's keyword handling; returns Twilio's confirmation text, if any. */
  applyKeyword(customer: string, sender: string, body: string): string | null {
    const word = body.trim().toUpperCase();
    if (OPT_OUT.has(word)) {
      this.#optedOut.add(`${customer} ${sender}`);
      return TWILIO_OPT_OUT_REPLY;
    }
    if (OPT_IN.has(word)) {
      this.#optedOut.delete(`${customer} ${sender}`);
      return TWILIO_OPT_IN_REPLY;
    }
    return null;
  }

  newestFirst(): CustomerReply[] {
    return [...this.replies].reverse();
  }
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&apos;': "'" };

/** The texts of the <Message> verbs of a TwiML answer (body text or a nested <Body>). */
export function twimlMessages(twiml: string): string[] {
  const out: string[] = [];
  for (const match of twiml.matchAll(/<Message(?:\s[^>]*)?>([\s\S]*?)<\/Message>/g)) {
    const inner = match[1] ?? '';
    const text = (/<Body(?:\s[^>]*)?>([\s\S]*?)<\/Body>/.exec(inner)?.[1] ?? inner.replace(/<[^>]+>/g, '')).trim();
    const decoded = text.replace(/&(amp|lt|gt|quot|apos);/g, (e) => ENTITIES[e] ?? e);
    if (decoded !== '') out.push(decoded);
  }
  return out;
}

export interface ReplyContext {
  options: ResolvedOptions;
  store: MessageStore;
  clock: DeliveryClock;
  book: ReplyBook;
  /** Aborted when the simulator closes, so shutdown never waits on a webhook. */
  closing: AbortSignal;
}

/** The parameters Twilio posts to a number's SMS webhook. */
function inboundParams(accountSid: string, reply: CustomerReply): Record<string, string> {
  return {
    AccountSid: accountSid,
    ApiVersion: API_VERSION,
    Body: reply.body,
    From: reply.from,
    MessageSid: reply.sid,
    NumMedia: '0',
    NumSegments: '1',
    SmsMessageSid: reply.sid,
    SmsSid: reply.sid,
    SmsStatus: 'received',
    To: reply.to,
  };
}

/** Texts the customer from `from`, as an outbound message of the account (charged like any). */
function textBack(context: ReplyContext, customer: string, from: string, body: string): void {
  const { store, options, clock } = context;
  const message = store.accept(
    { to: customer, from, body: body.slice(0, BODY_LIMIT), messagingServiceSid: null, statusCallback: null, validityPeriod: null },
    () => planOutcome(customer, options),
    new Date(),
  );
  clock.start(message);
}

async function postWebhook(context: ReplyContext, url: string, reply: CustomerReply): Promise<void> {
  const params = inboundParams(context.options.accountSid, reply);
  try {
    const signal = AbortSignal.any([context.closing, AbortSignal.timeout(WEBHOOK_TIMEOUT_MS)]);
    const response = await postSignedWebhook(context.options.authToken, url, params, signal);
    reply.webhookStatus = response.status;
    const text = await response.text();
    if (response.ok) {
      for (const body of twimlMessages(text)) {
        // A TwiML reply is a send like any: blocked for a customer who opted out of this number.
        if (context.book.isOptedOut(reply.from, reply.to)) {
          reply.webhookError = 'TwiML reply not sent: the customer opted out of this number (21610)';
          continue;
        }
        reply.replies.push(body);
        textBack(context, reply.from, reply.to, body);
      }
    } else {
      reply.webhookError = `answered ${response.status}`;
    }
  } catch (error) {
    reply.webhookError = String(error);
  }
}

function wantsHtml(accept: string | undefined): boolean {
  return typeof accept === 'string' && accept.includes('text/html');
}

export function registerReplyRoutes(app: FastifyInstance, context: ReplyContext): void {
  const { options, book } = context;
  app.post('/dev/reply', async (request, reply) => {
    const params = (request.body !== null && typeof request.body === 'object' ? request.body : {}) as FormParams;
    // An unencoded '+' (curl -d From=+1...) arrives as a space: read it back as the E.164 plus.
    const plus = (value: string | undefined) => value?.replace(/^ /, '+').trim();
    const from = plus(param(params, 'From')) ?? '';
    const body = param(params, 'Body') ?? '';
    if (!E164.test(from)) throw badRequest(21211, `From must be the customer's number in E.164 form, e.g. +14155552671 (got "${from}").`);
    if (body.trim() === '') throw badRequest(21602, 'Body is required: the text the customer sends, e.g. STOP.');
    if ([...body].length > BODY_LIMIT) throw badRequest(21617, `Body exceeds the ${BODY_LIMIT} character limit.`);
    // By default the customer answers the number that last texted them, as a phone's reply does.
    const lastSender = context.store.newestFirst().find((m) => m.to === from)?.from;
    const to = plus(param(params, 'To')) || lastSender || options.phoneNumbers[0] || '';
    if (!options.phoneNumbers.includes(to)) {
      throw badRequest(21606, `To must be one of the account's numbers (${options.phoneNumbers.join(', ') || 'none'}), got "${to}".`);
    }
    const received: CustomerReply = {
      sid: `SM${randomBytes(16).toString('hex')}`, from, to, body, dateCreated: new Date(), webhookStatus: null, webhookError: null, replies: [],
    };
    book.replies.push(received);
    const confirmation = book.applyKeyword(from, to, body);
    if (confirmation !== null) {
      received.replies.push(confirmation);
      textBack(context, from, to, confirmation);
    }
    if (options.inboundWebhookUrl) await postWebhook(context, options.inboundWebhookUrl, received);
    else received.webhookError = 'no inbound webhook URL is set (the simulator option inboundWebhookUrl, or twilio-sim --inbound-url)';
    if (wantsHtml(request.headers.accept)) return reply.redirect('/inbox', 303);
    return reply.code(201).send({
      sid: received.sid, from, to, body,
      webhook: { url: options.inboundWebhookUrl ?? null, status: received.webhookStatus, error: received.webhookError },
      replies: received.replies,
    });
  });
}
