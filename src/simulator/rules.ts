// Twilio's rules for creating a message: which parameters are required, which numbers are
// valid or owned, the magic test numbers, the body limit and segment counting. Error codes and
// messages are Twilio's, so client code meets the same failures here as in production.
import { SegmentedMessage } from 'sms-segments-calculator';
import { badRequest } from './twilio-error.ts';

const E164 = /^\+[1-9]\d{1,14}$/;
const MESSAGING_SERVICE_SID = /^MG[0-9a-fA-F]{32}$/;
const BODY_LIMIT = 1600;
/** Twilio's ValidityPeriod range in seconds (1 second to 10 hours). */
const VALIDITY_MIN = 1;
const VALIDITY_MAX = 36_000;

/** Twilio's test-credential "From" numbers; +15005550006 always works as an owned number. */
export const MAGIC_FROM_VALID = '+15005550006';
const MAGIC_FROM_ERRORS: Record<string, (from: string) => Error> = {
  '+15005550001': (from) => badRequest(21212, `The 'From' number ${from} is not a valid phone number, shortcode, or alphanumeric sender ID.`),
  '+15005550007': (from) => notOwned(from),
  '+15005550008': () => badRequest(21611, "This 'From' number has exceeded the maximum number of queued messages."),
};

/** Twilio's test-credential "To" numbers that are refused at create time. */
const MAGIC_TO_ERRORS: Record<string, (to: string, from: string) => Error> = {
  '+15005550001': (to) => invalidTo(to),
  '+15005550002': (to, from) =>
    badRequest(21612, `Message cannot be sent with the current combination of 'To' (${to}) and/or 'From' (${from}) parameters`),
  '+15005550003': (to) => badRequest(21408, `Permission to send an SMS has not been enabled for the region indicated by the 'To' number: ${to}.`),
  '+15005550004': () => badRequest(21610, 'Attempt to send to unsubscribed recipient'),
  '+15005550009': (to) => badRequest(21614, `'To' number ${to} is not a valid mobile number`),
};

function invalidTo(to: string): Error {
  return badRequest(21211, `The 'To' number ${to} is not a valid phone number.`);
}

function notOwned(from: string): Error {
  return badRequest(
    21606,
    `The From phone number ${from} is not a valid, SMS-capable inbound phone number or short code for your account.`,
  );
}

/** A create request that passed every rule, ready to be stored. */
export interface MessageRequest {
  to: string;
  from: string;
  body: string;
  messagingServiceSid: string | null;
  statusCallback: string | null;
  /** Seconds the message may wait in the queue, or null for Twilio's default (10 hours). */
  validityPeriod: number | null;
}

export interface SegmentCount {
  numSegments: number;
  encoding: 'GSM-7' | 'UCS-2';
}

/**
 * The GSM-7 basic character set (one septet each). CR is left out because the calculator treats
 * CRLF as one grapheme; extension characters (two septets, never split) are left to it too.
 */
export const GSM7_BASIC_CHARACTERS =
  '@£$¥èéùìòÇ\nØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡' +
  'ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_BASIC = new Set(GSM7_BASIC_CHARACTERS);

/**
 * Segments as Twilio bills them (GSM-7 160 alone / 153 per part, UCS-2 70 / 67, extension
 * characters two septets), from Twilio's own calculator. The calculator costs ~0.4 ms a body,
 * the bulk of a create request, so plain GSM-7 bodies (the usual case: one septet per character)
 * use its arithmetic directly; a test checks the two agree on random bodies.
 */
export function countSegments(body: string): SegmentCount {
  let plain = true;
  for (const c of body) {
    if (!GSM7_BASIC.has(c)) {
      plain = false;
      break;
    }
  }
  if (plain) return { numSegments: body.length <= 160 ? 1 : Math.ceil(body.length / 153), encoding: 'GSM-7' };
  const message = new SegmentedMessage(body);
  return { numSegments: Math.max(1, message.segmentsCount), encoding: message.encodingName };
}

/** Form parameters as parsed: a repeated name gives an array, and Twilio reads the first. */
export type FormParams = Record<string, string | string[] | undefined>;

export function param(params: FormParams, name: string): string | undefined {
  const value = params[name];
  return Array.isArray(value) ? value[0] : value;
}

function present(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

function checkFrom(from: string, ownedNumbers: readonly string[]): void {
  const magic = MAGIC_FROM_ERRORS[from];
  if (magic) throw magic(from);
  if (from === MAGIC_FROM_VALID) return;
  if (!E164.test(from)) throw MAGIC_FROM_ERRORS['+15005550001']!(from);
  if (!ownedNumbers.includes(from)) throw notOwned(from);
}

function checkTo(to: string, from: string): void {
  const magic = MAGIC_TO_ERRORS[to];
  if (magic) throw magic(to, from);
  if (!E164.test(to)) throw invalidTo(to);
}

function readStatusCallback(value: string | undefined): string | null {
  if (!present(value)) return null;
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw badRequest(21609, `The StatusCallback URL ${value} is not a valid URL.`);
  }
  return value;
}

// An out-of-range ValidityPeriod is refused (Twilio documents 90007 "Invalid validity period
// value": whole seconds between 1 and 36,000) rather than silently clamped, so a mistyped OTP
// expiry shows up in development instead of as late codes in production.
function readValidityPeriod(value: string | undefined): number | null {
  if (!present(value)) return null;
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < VALIDITY_MIN || seconds > VALIDITY_MAX) {
    throw badRequest(90007, `The ValidityPeriod ${value} is invalid: use whole seconds between ${VALIDITY_MIN} and ${VALIDITY_MAX}.`);
  }
  return seconds;
}

/**
 * Checks a create request in the order Twilio reports problems: To, sender, numbers, body,
 * options. With only a Messaging Service SID, the service sends from the first owned number.
 */
export function readMessageRequest(params: FormParams, ownedNumbers: readonly string[]): MessageRequest {
  const to = param(params, 'To')?.trim();
  if (!present(to)) throw badRequest(21604, "A 'To' phone number is required.");

  const givenFrom = param(params, 'From')?.trim();
  const serviceSid = param(params, 'MessagingServiceSid')?.trim();
  let from: string;
  let messagingServiceSid: string | null = null;
  if (present(serviceSid)) {
    if (!MESSAGING_SERVICE_SID.test(serviceSid)) {
      throw badRequest(21701, `The Messaging Service Sid ${serviceSid} is invalid.`);
    }
    messagingServiceSid = serviceSid;
  }
  if (present(givenFrom)) {
    from = givenFrom;
    checkFrom(from, ownedNumbers);
  } else if (messagingServiceSid) {
    const first = ownedNumbers[0];
    if (first === undefined) {
      throw badRequest(21704, `The Messaging Service ${messagingServiceSid} contains no phone numbers.`);
    }
    from = first;
  } else {
    throw badRequest(21603, "A 'From' phone number is required.");
  }

  checkTo(to, from);

  const body = param(params, 'Body') ?? '';
  if (body === '') throw badRequest(21602, 'A text message body or media urls must be specified.');
  if ([...body].length > BODY_LIMIT) {
    throw badRequest(21617, `The concatenated message body exceeds the ${BODY_LIMIT} character limit.`);
  }

  return {
    to,
    from,
    body,
    messagingServiceSid,
    statusCallback: readStatusCallback(param(params, 'StatusCallback')),
    validityPeriod: readValidityPeriod(param(params, 'ValidityPeriod')),
  };
}
