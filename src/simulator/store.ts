// The simulated account's state: its messages (the developer's inbox) and its balance. Money is
// held in integer micro-dollars; a message is charged when accepted and refunded if it fails,
// because Twilio does not bill failed messages.
import { randomBytes } from 'node:crypto';
import type { MessageRequest } from './rules.ts';
import { countSegments } from './rules.ts';
import { DELIVERY_ERROR_MESSAGES } from './faults.ts';
import { TwilioApiError } from './twilio-error.ts';

export type MessageStatus = 'accepted' | 'queued' | 'sending' | 'sent' | 'delivered' | 'undelivered' | 'failed';

export interface SimulatedMessage {
  /** 'SM' + 32 hex. */
  sid: string;
  accountSid: string;
  to: string;
  from: string;
  body: string;
  messagingServiceSid: string | null;
  direction: 'outbound-api';
  status: MessageStatus;
  numSegments: number;
  encoding: 'GSM-7' | 'UCS-2';
  /** As Twilio reports it: the charge as a negative USD amount (-0.0075), null until sent. */
  price: number | null;
  errorCode: number | null;
  errorMessage: string | null;
  dateCreated: Date;
  /** When the message left for the carrier; null while queued and for failed messages. */
  dateSent: Date | null;
  dateUpdated: Date;
  statusCallback: string | null;
  /** Seconds the message may wait in the queue; null means Twilio's default of 10 hours. */
  validityPeriod: number | null;
  /** Every status the message has had, oldest first. */
  statusHistory: { status: MessageStatus; at: Date }[];
}

/** How a message will end, decided when it is accepted. */
export type Outcome =
  | { status: 'delivered' }
  | { status: 'undelivered' | 'failed'; errorCode: number };

/** A message plus what only the simulator knows: its charge and planned outcome. */
export interface StoredMessage extends SimulatedMessage {
  costMicros: number;
  outcome: Outcome;
}

export interface StatusChange {
  status: MessageStatus;
  errorCode?: number;
}

function newMessageSid(): string {
  return `SM${randomBytes(16).toString('hex')}`;
}

/** A copy the caller may keep or change without touching the simulator's state. */
export function publicCopy(message: StoredMessage): SimulatedMessage {
  const { costMicros: _cost, outcome: _outcome, ...rest } = message;
  return { ...rest, statusHistory: rest.statusHistory.map((h) => ({ ...h })) };
}

export class MessageStore {
  readonly #accountSid: string;
  readonly #pricePerSegmentMicros: number;
  #balanceMicros: number;
  /** Oldest first; lists reverse it, as Twilio lists newest first. */
  readonly #messages: StoredMessage[] = [];
  readonly #bySid = new Map<string, StoredMessage>();
  readonly #maxMessages: number;
  readonly #listeners = new Set<(message: SimulatedMessage) => void>();

  constructor(accountSid: string, startingBalanceMicros: number, pricePerSegmentMicros: number, maxMessages = 50_000) {
    this.#accountSid = accountSid;
    this.#maxMessages = maxMessages;
    this.#balanceMicros = startingBalanceMicros;
    this.#pricePerSegmentMicros = pricePerSegmentMicros;
  }

  get balanceMicros(): number {
    return this.#balanceMicros;
  }

  setBalanceMicros(micros: number): void {
    this.#balanceMicros = micros;
  }

  /**
   * Charges and stores an accepted message. A balance that cannot cover it is refused with 20005,
   * which Twilio documents as "Account not active: ... because you ran out of funds" (the bank's
   * src/sms/twilio-errors.ts reads it as insufficient funds). Twilio documents no HTTP status for
   * it; 401 is chosen because an inactive account is refused at authentication, like 20003.
   */
  accept(request: MessageRequest, planOutcome: () => Outcome, now: Date): StoredMessage {
    const { numSegments, encoding } = countSegments(request.body);
    const costMicros = numSegments * this.#pricePerSegmentMicros;
    if (costMicros > this.#balanceMicros) {
      throw new TwilioApiError(20005, 401, 'Account not active');
    }
    this.#balanceMicros -= costMicros;
    // Messaging Services accept first and queue afterwards, as on Twilio.
    const status: MessageStatus = request.messagingServiceSid ? 'accepted' : 'queued';
    const message: StoredMessage = {
      sid: newMessageSid(),
      accountSid: this.#accountSid,
      to: request.to,
      from: request.from,
      body: request.body,
      messagingServiceSid: request.messagingServiceSid,
      direction: 'outbound-api',
      status,
      numSegments,
      encoding,
      price: null,
      errorCode: null,
      errorMessage: null,
      dateCreated: now,
      dateSent: null,
      dateUpdated: now,
      statusCallback: request.statusCallback,
      validityPeriod: request.validityPeriod,
      statusHistory: [{ status, at: now }],
      costMicros,
      // Planned only once the message is paid for, so refused sends draw no random numbers.
      outcome: planOutcome(),
    };
    this.#messages.push(message);
    this.#bySid.set(message.sid, message);
    this.#forgetOldest();
    for (const listener of this.#listeners) listener(publicCopy(message));
    return message;
  }

  /** Calls `listener` with a copy of each message accepted from now on; returns what stops it. */
  onAccepted(listener: (message: SimulatedMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Past the cap, forgets the oldest messages, a tenth of the cap at a time (so not on every send). */
  #forgetOldest(): void {
    const excess = this.#messages.length - this.#maxMessages;
    if (excess <= 0) return;
    const forgotten = this.#messages.splice(0, Math.max(excess, Math.ceil(this.#maxMessages / 10)));
    for (const message of forgotten) this.#bySid.delete(message.sid);
  }

  get(sid: string): StoredMessage | undefined {
    return this.#bySid.get(sid);
  }

  newestFirst(): StoredMessage[] {
    return [...this.#messages].reverse();
  }

  /** Moves a message to its next status, with the bookkeeping Twilio does at that step. */
  apply(message: StoredMessage, change: StatusChange, now: Date): void {
    message.status = change.status;
    message.dateUpdated = now;
    message.statusHistory.push({ status: change.status, at: now });
    if (change.status === 'sent') {
      message.dateSent = now;
      message.price = -message.costMicros / 1_000_000;
    }
    if (change.errorCode !== undefined) {
      message.errorCode = change.errorCode;
      message.errorMessage = DELIVERY_ERROR_MESSAGES[change.errorCode] ?? null;
    }
    if (change.status === 'failed') {
      this.#balanceMicros += message.costMicros;
      message.price = null;
    }
  }
}
