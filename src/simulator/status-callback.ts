// Status callbacks as Twilio sends them: a form-encoded POST per status change, signed with
// X-Twilio-Signature (HMAC-SHA1 of the URL and sorted parameters, keyed with the auth token).
// Delivery is best effort, like Twilio's: a failing receiver is logged and never retried here.
import twilio from 'twilio';
import { API_VERSION } from './format.ts';
import type { SimulatedMessage } from './store.ts';

const CALLBACK_TIMEOUT_MS = 10_000;

/** The parameters Twilio posts for a message status change. */
export function statusCallbackParams(message: SimulatedMessage): Record<string, string> {
  const params: Record<string, string> = {
    AccountSid: message.accountSid,
    ApiVersion: API_VERSION,
    From: message.from,
    MessageSid: message.sid,
    MessageStatus: message.status,
    SmsSid: message.sid,
    SmsStatus: message.status,
    To: message.to,
  };
  if (message.messagingServiceSid) params.MessagingServiceSid = message.messagingServiceSid;
  if (message.errorCode !== null) params.ErrorCode = String(message.errorCode);
  return params;
}

/** POSTs a webhook as Twilio does: form-encoded, signed with X-Twilio-Signature. */
export function postSignedWebhook(authToken: string, url: string, params: Record<string, string>, signal: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'TwilioProxy/1.1',
      'x-twilio-signature': twilio.getExpectedTwilioSignature(authToken, url, params),
    },
    body: new URLSearchParams(params).toString(),
    signal,
  });
}

export interface CallbackLog {
  warn(details: object, message: string): void;
}

/** Sends callbacks; close() aborts the ones in flight so shutdown never waits on a receiver. */
export class StatusCallbackSender {
  readonly #authToken: string;
  readonly #log: CallbackLog;
  readonly #closing = new AbortController();

  constructor(authToken: string, log: CallbackLog) {
    this.#authToken = authToken;
    this.#log = log;
  }

  /** Fire and forget: the returned promise never rejects. */
  async send(url: string, message: SimulatedMessage): Promise<void> {
    if (this.#closing.signal.aborted) return;
    try {
      const signal = AbortSignal.any([this.#closing.signal, AbortSignal.timeout(CALLBACK_TIMEOUT_MS)]);
      const response = await postSignedWebhook(this.#authToken, url, statusCallbackParams(message), signal);
      await response.body?.cancel();
      if (!response.ok) {
        this.#log.warn({ url, messageSid: message.sid, status: response.status }, 'status callback answered with an error status');
      }
    } catch (error) {
      if (this.#closing.signal.aborted) return;
      this.#log.warn({ url, messageSid: message.sid, error: String(error) }, 'status callback could not be delivered');
    }
  }

  close(): void {
    this.#closing.abort();
  }
}
