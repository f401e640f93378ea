// The SMS provider port: the one small interface every message goes through.
// The only implementation is Twilio's (src/sms/twilio-provider.ts); in simulator mode it talks
// to the built-in simulator over HTTP, so there is no second fake implementation.
import { AppError } from '../errors.ts';

export type MessageStatus =
  | 'accepted' | 'scheduled' | 'queued' | 'sending' | 'sent'
  | 'delivered' | 'undelivered' | 'failed' | 'receiving' | 'received' | 'read' | 'canceled';

export interface SendRequest {
  /** E.164 destination. */
  to: string;
  /** E.164 sender number; ignored when messagingServiceSid is given. */
  from?: string;
  messagingServiceSid?: string;
  body: string;
  /** URL Twilio POSTs status changes to (signed with X-Twilio-Signature). */
  statusCallback?: string;
  /** Seconds Twilio may queue the message before giving up (1..36000). Short for codes. */
  validityPeriodSeconds?: number;
}

export interface SentMessage {
  sid: string;
  status: MessageStatus;
  to: string;
  from: string | null;
  segments: number;
  /** Price Twilio charged, as a positive number in priceUnit, or null while unknown. */
  price: number | null;
  priceUnit: string | null;
  errorCode: number | null;
  errorMessage: string | null;
  dateCreated: Date | null;
  dateSent: Date | null;
  dateUpdated: Date | null;
}

export interface ProviderAccount {
  sid: string;
  friendlyName: string;
  status: 'active' | 'suspended' | 'closed';
  type: 'Trial' | 'Full';
  dateCreated: Date | null;
}

export interface ProviderBalance {
  balance: number;
  currency: string;
}

export interface SenderNumber {
  sid: string;
  phoneNumber: string;
  friendlyName: string;
  capabilities: { sms: boolean; mms: boolean; voice: boolean };
}

/** A message as a list of the account's messages shows it, body included. */
export interface ListedMessage extends SentMessage {
  body: string;
}

/** A call's status as Twilio's Calls API names it. */
export type CallStatus = 'queued' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'failed' | 'no-answer' | 'canceled';

/** A voice call that speaks TwiML given inline (a one-time code read aloud). */
export interface CallRequest {
  to: string;
  /** A voice-capable number of the account (a Messaging Service cannot place calls). */
  from: string;
  twiml: string;
  /** URL Twilio POSTs call progress to (signed with X-Twilio-Signature). */
  statusCallback?: string;
  /** Seconds to let it ring before giving up. */
  ringSeconds?: number;
}

export interface PlacedCall {
  sid: string;
  status: CallStatus;
  to: string;
  from: string | null;
  /** Positive USD once the call ended, else null. */
  price: number | null;
  durationSeconds: number | null;
}

export interface SmsProvider {
  /** Places a voice call (Twilio's Calls API): the code fallback when SMS cannot reach the number. */
  placeCall(request: CallRequest): Promise<PlacedCall>;
  readonly name: string;
  send(request: SendRequest): Promise<SentMessage>;
  fetchMessage(sid: string): Promise<SentMessage>;
  /** The account's latest messages to one number, newest first (finding a send a crash left unrecorded). */
  listMessagesTo(to: string, limit: number): Promise<ListedMessage[]>;
  fetchAccount(): Promise<ProviderAccount>;
  fetchBalance(): Promise<ProviderBalance>;
  listSenderNumbers(): Promise<SenderNumber[]>;
}

/** How a provider failure should be handled. */
export type SmsErrorKind =
  | 'authentication'     // credentials wrong or revoked: fix config, do not retry
  | 'invalid_recipient'  // the To number can never receive: mark the profile, do not retry
  | 'opted_out'          // recipient replied STOP: do not retry, respect it
  | 'insufficient_funds' // top up the account; retry after
  | 'rate_limited'       // 429 / 20429 / queue full: retry later, honour retryAfterMs
  | 'transient'          // network, timeout, 5xx: retry with backoff
  | 'permanent';         // anything else Twilio refuses: do not retry

const KIND_TO_CODE = {
  authentication: 'sms_authentication',
  invalid_recipient: 'sms_invalid_recipient',
  opted_out: 'sms_opted_out',
  insufficient_funds: 'sms_insufficient_funds',
  rate_limited: 'sms_rate_limited',
  transient: 'sms_transient',
  permanent: 'sms_permanent',
} as const satisfies Record<SmsErrorKind, string>;

export class SmsProviderError extends AppError {
  readonly kind: SmsErrorKind;
  /** Twilio's error code (e.g. 20003, 21211), or null for network failures. */
  readonly twilioCode: number | null;
  readonly httpStatus: number | null;
  /** For rate_limited: how long to wait before retrying, from Retry-After when Twilio sent one. */
  readonly retryAfterMs: number | null;
  /**
   * The request may have reached Twilio and been carried out, its answer lost (a timeout, a
   * connection reset or closed mid-request): before sending again, look for it at Twilio.
   */
  readonly mayHaveArrived: boolean;

  constructor(init: {
    kind: SmsErrorKind;
    message: string;
    twilioCode?: number | null;
    httpStatus?: number | null;
    retryAfterMs?: number | null;
    mayHaveArrived?: boolean;
    cause?: unknown;
  }) {
    super(KIND_TO_CODE[init.kind], init.message, { cause: init.cause });
    this.name = 'SmsProviderError';
    this.kind = init.kind;
    this.twilioCode = init.twilioCode ?? null;
    this.httpStatus = init.httpStatus ?? null;
    this.retryAfterMs = init.retryAfterMs ?? null;
    this.mayHaveArrived = init.mayHaveArrived ?? false;
  }

  get retryable(): boolean {
    return this.kind === 'transient' || this.kind === 'rate_limited' || this.kind === 'insufficient_funds';
  }
}
