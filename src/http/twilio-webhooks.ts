// Twilio's webhooks: message status callbacks (POST /webhooks/twilio/status), code calls' status
// callbacks (POST /webhooks/twilio/call-status) and SMS customers send to the bank's numbers
// (POST /webhooks/twilio/inbound). All are signed with X-Twilio-Signature
// (src/sms/webhook-signature.ts: form bodies by their sorted parameters, JSON bodies by
// bodySHA256, over PUBLIC_BASE_URL plus the path); a request without a valid signature is refused
// with 403 before anything is read.
import twilio from 'twilio';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { STATUS_CALLBACK_PATH, recordStatusCallback, twilioErrorField } from '../sms/delivery.ts';
import { INBOUND_SMS_PATH, receiveInboundSms } from '../sms/inbound.ts';
import type { MessageStatus } from '../sms/provider.ts';
import { CALL_STATUS_PATH, recordCallProgress, type CallProgress } from '../voice/code-call.ts';
import { unreadableInput } from './session-auth.ts';
import { checkWebhookSignature, recordWebhookSigner, type FormParams } from '../sms/webhook-signature.ts';

function parseForm(body: string): FormParams {
  const params: FormParams = {};
  for (const [name, value] of new URLSearchParams(body)) {
    const previous = params[name];
    if (previous === undefined) params[name] = value;
    else params[name] = Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return params;
}

function text(params: FormParams, name: string): string | undefined {
  const value = params[name];
  return typeof value === 'string' ? value : undefined;
}

const MESSAGE_SID = /^(SM|MM)[0-9a-fA-F]{32}$/;
const CALL_SID = /^CA[0-9a-fA-F]{32}$/;
const CALL_STATUSES: ReadonlySet<string> = new Set(['initiated', 'queued', 'ringing', 'in-progress', 'completed', 'busy', 'failed', 'no-answer', 'canceled']);
const STATUSES: ReadonlySet<string> = new Set<MessageStatus>([
  'accepted', 'scheduled', 'queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'canceled',
]);

function badRequest(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(400).send({ error: 'validation_failed', message });
}

/** The body as received, for signatures over bodySHA256. */
const rawBodies = new WeakMap<FastifyRequest, string>();

/**
 * Makes a scope's routes Twilio webhooks: form and JSON bodies are read (the raw text kept for
 * bodySHA256), and every request must carry a valid X-Twilio-Signature, else 403. The token that
 * signed is counted (src/sms/webhook-signature.ts), for the rotation advice of --check-setup.
 */
export function guardTwilioWebhooks(scope: FastifyInstance, ctx: Pick<AppContext, 'config' | 'db' | 'clock'>): void {
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    rawBodies.set(request, text);
    done(null, parseForm(text));
  });
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    rawBodies.set(request, typeof body === 'string' ? body : body.toString('utf8'));
    done(null, {});
  });
  scope.addHook('preHandler', async (request, reply) => {
    const signature = request.headers['x-twilio-signature'];
    const body = request.body;
    const verdict = checkWebhookSignature(ctx.config, {
      path: request.url,
      signature: typeof signature === 'string' ? signature : undefined,
      params: body !== null && typeof body === 'object' ? (body as FormParams) : {},
      rawBody: rawBodies.get(request) ?? '',
    });
    if (verdict.ok) {
      const token = verdict.token === 'current' ? ctx.config.twilio.authToken : ctx.config.twilio.previousAuthToken!;
      await recordWebhookSigner(ctx.db, token, ctx.clock.now());
      if (verdict.token === 'previous') request.log.info({ url: request.url }, 'twilio webhook signed with TWILIO_AUTH_TOKEN_PREVIOUS');
      return;
    }
    request.log.warn({ url: request.url, problem: verdict.problem }, 'twilio webhook refused');
    return reply.code(403).send({ error: 'forbidden', message: verdict.problem });
  });
}

export function twilioWebhookRoutes(app: FastifyInstance, ctx: AppContext): void {
  // Scoped: only these routes read form bodies, the API keeps its JSON-only parsing.
  void app.register(async (scope) => {
    guardTwilioWebhooks(scope, ctx);
    // Twilio never sends a NUL; a signed form with one is refused before it reaches the database.
    scope.addHook('preHandler', async (request, reply) => {
      const unreadable = unreadableInput(request.body);
      if (unreadable) return badRequest(reply, unreadable);
    });

    scope.post(STATUS_CALLBACK_PATH, async (request, reply) => {
      const params = (request.body ?? {}) as FormParams;
      const sid = text(params, 'MessageSid') ?? text(params, 'SmsSid');
      const status = text(params, 'MessageStatus') ?? text(params, 'SmsStatus');
      if (!sid || !MESSAGE_SID.test(sid)) return badRequest(reply, 'MessageSid must be SM or MM followed by 32 hex characters.');
      if (!status) return badRequest(reply, 'MessageStatus is required.');
      // Statuses outside the SMS lifecycle (read, partially_delivered, future ones) settle nothing.
      if (!STATUSES.has(status)) return reply.code(204).send();
      const errorCode = Number.parseInt(text(params, 'ErrorCode') ?? '', 10);
      const code = Number.isInteger(errorCode) ? errorCode : null;
      const recorded = await recordStatusCallback(ctx, sid, { status: status as MessageStatus, errorCode: code });
      // An unknown message is answered 2xx too, so Twilio does not retry it.
      if (recorded === 'unknown') request.log.info({ messageSid: sid, status }, 'status callback for an unknown message ignored');
      else request.log.info({ messageId: recorded.messageId, messageSid: sid, status, ...twilioErrorField(code), applied: recorded.changed }, 'status callback');
      return reply.code(204).send();
    });

    // Code calls' progress (src/voice/code-call.ts), signed like every webhook.
    scope.post(CALL_STATUS_PATH, async (request, reply) => {
      const params = (request.body ?? {}) as FormParams;
      const sid = text(params, 'CallSid');
      const status = text(params, 'CallStatus');
      if (!sid || !CALL_SID.test(sid)) return badRequest(reply, 'CallSid must be CA followed by 32 hex characters.');
      if (!status || !CALL_STATUSES.has(status)) return badRequest(reply, `CallStatus must be one of ${[...CALL_STATUSES].join(', ')}.`);
      const duration = Number.parseInt(text(params, 'CallDuration') ?? '', 10);
      const errorCode = Number.parseInt(text(params, 'ErrorCode') ?? '', 10);
      const recorded = await recordCallProgress(ctx, sid, {
        status: status as CallProgress['status'], durationSeconds: Number.isInteger(duration) ? duration : null, errorCode: Number.isInteger(errorCode) ? errorCode : null,
      });
      if (recorded === 'unknown') request.log.info({ callSid: sid, status }, 'call status callback for an unknown call ignored');
      else request.log.info({ callId: recorded.callId, callSid: sid, status, applied: recorded.changed }, 'call status callback');
      return reply.code(204).send();
    });

    scope.post(INBOUND_SMS_PATH, async (request, reply) => {
      const params = (request.body ?? {}) as FormParams;
      const sid = text(params, 'MessageSid') ?? text(params, 'SmsSid');
      const from = text(params, 'From');
      const to = text(params, 'To');
      if (!sid || !MESSAGE_SID.test(sid)) return badRequest(reply, 'MessageSid must be SM or MM followed by 32 hex characters.');
      if (!from || !to) return badRequest(reply, 'From and To are required.');
      const outcome = await receiveInboundSms(ctx, { sid, from, to, body: text(params, 'Body') ?? '', optOutType: text(params, 'OptOutType') });
      const twiml = new twilio.twiml.MessagingResponse();
      if (outcome.reply !== null) twiml.message(outcome.reply);
      return reply.type('text/xml').send(twiml.toString());
    });
  });
}
