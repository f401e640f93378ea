// What each Twilio failure means for us (retry or not, whose fix) and what the operator should do.
// The table is data so the CLI can print the fix for a code seen in the logs or a status callback.
import { maskPhoneNumber } from './phone.ts';
import { SmsProviderError } from './provider.ts';
import type { SmsErrorKind } from './provider.ts';

/**
 * What a Twilio error means to an operator, one per message of the setup guide's troubleshooting
 * table: the CLI prints GUIDE_MESSAGES[meaning] as the problem and maps it to an exit code.
 */
export type TwilioErrorMeaning =
  | 'credentials'      // Twilio refused the SID / token
  | 'test_credentials' // the request needs live credentials
  | 'sender'           // the 'From' number (or Messaging Service) cannot send
  | 'recipient'        // the 'To' number cannot take SMS as given
  | 'opted_out'        // the 'To' number's owner unsubscribed (STOP) or is blocked
  | 'region'           // the 'To' number is in a region the account may not text
  | 'funds'            // the account ran out of money or is suspended for it
  | 'delivery'         // accepted, then the carrier could not deliver it
  | 'rate'             // too much, too fast: slow down and retry
  | 'request'          // the request itself was malformed: a setting or a template to fix
  | 'twilio_down';     // Twilio's own server error: retry later

/** The guide's message for each meaning (docs/setup-twilio.md, Troubleshooting). */
export const GUIDE_MESSAGES: Record<TwilioErrorMeaning, string> = {
  credentials: 'Authentication Error',
  test_credentials: 'Not Available With Test Credentials',
  sender: 'Phone number not configured',
  recipient: 'Invalid Phone Number',
  opted_out: 'Recipient Opted Out',
  region: 'Country Not Allowed',
  funds: 'Insufficient Funds',
  delivery: 'Message Delivery Failed',
  rate: 'Rate limited',
  request: 'Invalid configuration',
  twilio_down: 'Twilio unavailable',
};

export interface TwilioErrorExplanation {
  code: number;
  /** How the sender handles it: retry or not. */
  kind: SmsErrorKind;
  /** Which of the guide's messages it is. */
  meaning: TwilioErrorMeaning;
  /** Twilio's own title for the code (twilio.com/docs/api/errors/<code>). */
  title: string;
  /** What it means and how to fix it, for an operator. */
  fix: string;
}

const CREDENTIALS_FIX =
  'Twilio rejected the Account SID / Auth Token (or API key SID / secret). Check TWILIO_ACCOUNT_SID and ' +
  'TWILIO_AUTH_TOKEN in .env, copied from console.twilio.com (Account Info on the dashboard); a rotated ' +
  'token stops working at once, test credentials only work with the magic test numbers, and an API key ' +
  'must belong to this account.';
const FUNDS_FIX = 'Add credit in the Twilio console (Billing) and consider auto-recharge; sends resume a few minutes after the top-up.';
const ASK_FOR_MOBILE = 'Ask the customer for a mobile number that can receive SMS.';

type Row = TwilioErrorExplanation;
const entry = (code: number, kind: SmsErrorKind, meaning: TwilioErrorMeaning, title: string, fix: string): Row => ({ code, kind, meaning, title, fix });

/**
 * Every Twilio error an operator can meet, by code: the one table behind the CLI's messages, the
 * log lines and message log of a failed SMS, and the docs' table (scripts/twilio-errors-doc.ts).
 * Codes not listed are classified by HTTP status (401, 429, 5xx) and shown with Twilio's own text.
 */
export const TWILIO_ERRORS: readonly TwilioErrorExplanation[] = [
  // Credentials and the account.
  entry(20003, 'authentication', 'credentials', 'Permission Denied (Authenticate)', CREDENTIALS_FIX),
  entry(20008, 'permanent', 'test_credentials', 'Resource not accessible with Test Account Credentials', "Twilio's test credentials cannot read this resource (account balance, phone numbers, message history). Use the live Account SID and Auth Token to check it."),
  entry(20404, 'permanent', 'request', 'Not Found', 'the resource does not exist on this account: a wrong message SID, or TWILIO_ACCOUNT_SID points at another account than the one that sent it.'),
  // Twilio documents 20005 as "Account not active: potentially because you ran out of funds",
  // 10001 as "Account is not active" (balance at $0) and 30002 as "Account suspended" (a message
  // refused for it). There is no separate "low balance" code: an empty balance suspends the account.
  entry(20005, 'insufficient_funds', 'funds', 'Account not active', `the Twilio account is not active, usually because its balance ran out. ${FUNDS_FIX}`),
  entry(10001, 'insufficient_funds', 'funds', 'Account is not active', 'the Twilio account is not active (balance at $0 or suspended). Add credit in the Twilio console (Billing); if it stays suspended after paying, contact Twilio Support.'),
  entry(30002, 'insufficient_funds', 'funds', 'Account suspended', `the account was suspended while the message waited, usually for an empty balance. ${FUNDS_FIX}`),
  // The sender.
  entry(21606, 'permanent', 'sender', "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination", "the 'From' number is not owned by this account or not SMS-capable. Set TWILIO_PHONE_NUMBER to a number listed under Phone Numbers → Active numbers with SMS capability (check with `dominion test_twilio_sms --phone-numbers`)."),
  entry(21212, 'permanent', 'sender', "Invalid 'From' Phone Number", "the 'From' number is not a valid phone number or alphanumeric sender ID. Set TWILIO_PHONE_NUMBER in E.164 form, e.g. +14155550100."),
  entry(21659, 'permanent', 'sender', "Source number is not a Twilio number", "the 'From' number is not a Twilio number or short code of this account (or not usable for this destination country). Use one of the account's own numbers."),
  entry(21603, 'permanent', 'sender', "The source 'From' phone number is required to send an SMS", 'a sender is required. Set TWILIO_PHONE_NUMBER or TWILIO_MESSAGING_SERVICE_SID.'),
  entry(21701, 'permanent', 'sender', 'The Messaging Service Sid is invalid', 'TWILIO_MESSAGING_SERVICE_SID is not MG followed by 32 hex characters of this account. Copy it from Messaging → Services.'),
  entry(21704, 'permanent', 'sender', 'The Messaging Service contains no phone numbers', "the Messaging Service has no sender in its pool. Add a number under Messaging → Services → Sender Pool."),
  // The 'To' number.
  entry(21211, 'invalid_recipient', 'recipient', "Invalid 'To' Phone Number", "the 'To' number is not a valid phone number. Ask the customer to correct their phone number (E.164, e.g. +14155552671)."),
  entry(21214, 'invalid_recipient', 'recipient', "'To' phone number cannot be reached", `the number is not in service or cannot be reached. ${ASK_FOR_MOBILE}`),
  entry(21217, 'invalid_recipient', 'recipient', 'Phone number does not appear to be valid', "the 'To' number does not appear to be a valid phone number. Ask the customer to correct it."),
  entry(21401, 'invalid_recipient', 'recipient', 'Invalid Phone Number', 'the number is not valid for its country. Ask the customer to correct it (E.164: +, country code, number).'),
  entry(21407, 'invalid_recipient', 'recipient', 'This Phone Number type does not support SMS or MMS', `the number is a type (landline, pager) that cannot receive SMS. ${ASK_FOR_MOBILE}`),
  entry(21421, 'invalid_recipient', 'recipient', 'PhoneNumber is invalid', 'the phone number is invalid. Ask the customer to correct their phone number.'),
  entry(21604, 'invalid_recipient', 'recipient', "The destination 'To' phone number is required to send an SMS", 'the message had no destination. Check that the customer has a phone number on file (`dominion users set-phone`).'),
  entry(21608, 'invalid_recipient', 'recipient', "The 'To' phone number provided is not yet verified for this account", 'a trial account can only text verified numbers. Verify the number under Phone Numbers → Verified Caller IDs, or upgrade the account.'),
  entry(21612, 'invalid_recipient', 'recipient', "The 'To' phone number is not currently reachable via SMS", `Twilio cannot route SMS from this sender to the number (landline, unsupported carrier). ${ASK_FOR_MOBILE}`),
  entry(21614, 'invalid_recipient', 'recipient', "'To' number is not a valid mobile number", `the number is not a mobile number and cannot receive SMS. ${ASK_FOR_MOBILE}`),
  entry(21408, 'invalid_recipient', 'region', "Permission to send an SMS has not been enabled for the region indicated by the 'To' number", 'enable the country under Messaging → Settings → Geo permissions in the Twilio console, and add it to SMS_ALLOWED_COUNTRIES only if the bank serves it.'),
  entry(21610, 'opted_out', 'opted_out', 'Attempt to send to unsubscribed recipient', 'the customer replied STOP to this sender (or is on its block list), so Twilio blocks further messages. Do not retry; they can text START to the same number to opt back in.'),
  // Too much, too fast.
  entry(20429, 'rate_limited', 'rate', 'Too Many Requests', 'more than about 100 API requests were in flight for this account. Lower WORKER_CONCURRENCY; sends are retried after Retry-After.'),
  entry(21611, 'rate_limited', 'rate', "This 'From' number has exceeded the maximum number of queued messages", "the sender has over about 4 hours of backlog at its throughput. Slow down, spread traffic over more senders (TWILIO_PHONE_NUMBER=a,b) or use a Messaging Service."),
  entry(14107, 'rate_limited', 'rate', 'SMS send rate limit exceeded', 'the SMS send rate limit was exceeded. Slow down (TWILIO_SENDER_MPS) and retry later.'),
  entry(30001, 'rate_limited', 'rate', 'Queue overflow', "the sender's queue overflowed because messages arrived faster than its throughput. Lower TWILIO_SENDER_MPS or add senders."),
  // The request itself: a setting or a template.
  entry(21602, 'permanent', 'request', 'Message body is required', 'the message body was empty. Check the template that rendered it (`dominion notifications templates`).'),
  entry(21617, 'permanent', 'request', 'The concatenated message body exceeds the 1600 character limit', 'the body exceeds 1,600 characters. Shorten the template.'),
  entry(21609, 'permanent', 'request', 'Invalid StatusCallback', 'the status callback URL is not a valid http(s) URL. Check PUBLIC_BASE_URL, which it is built from.'),
  entry(90007, 'permanent', 'request', 'Invalid validity period value', 'ValidityPeriod must be whole seconds between 1 and 36,000. Check the expiry configured for this message type.'),
  // Twilio's own trouble.
  entry(20500, 'transient', 'twilio_down', 'Internal Server Error', 'Twilio had an internal error. It is usually brief: sends are retried with backoff; check status.twilio.com if it lasts.'),
  entry(20503, 'transient', 'twilio_down', 'Service Unavailable', 'Twilio is temporarily unavailable. Sends are retried with backoff; check status.twilio.com if it lasts.'),
  // Delivery: these arrive on the message (status undelivered / failed), never as a refused
  // request; the message stays refused for that number, so they are not retried.
  entry(30003, 'permanent', 'delivery', 'Unreachable destination handset', 'the phone was switched off or out of coverage when the carrier tried. Ask the customer to check their phone; repeated 30003 may mean the number is no longer in use.'),
  entry(30004, 'opted_out', 'delivery', 'Message blocked', 'the recipient or their carrier blocked the message (a block on the handset, a do-not-disturb list). Ask the customer to allow messages from the bank.'),
  entry(30005, 'invalid_recipient', 'delivery', 'Unknown destination handset', 'the carrier does not know this number (it may not exist or no longer be in service). Ask the customer to confirm their phone number.'),
  entry(30006, 'invalid_recipient', 'delivery', 'Landline or unreachable carrier', `the number is a landline or its carrier cannot receive SMS. ${ASK_FOR_MOBILE}`),
  entry(30007, 'permanent', 'delivery', 'Message filtered', 'the carrier filtered the message as spam. Review the text, and register the sender (A2P 10DLC or toll-free verification) in the Twilio console.'),
  entry(30008, 'permanent', 'delivery', 'Unknown error', 'the carrier reported no reason. Try again; if it persists for this number, open a ticket with Twilio Support quoting the message SID.'),
  entry(30032, 'permanent', 'delivery', 'Toll-Free Number Has Not Been Verified', 'US carriers block unverified toll-free senders. Submit toll-free verification in the Twilio console, or send from a registered long code.'),
  entry(30034, 'permanent', 'delivery', 'Message from an Unregistered Number', 'US carriers block long codes without A2P 10DLC registration. Register the brand and campaign under Messaging → Regulatory Compliance.'),
  entry(30036, 'permanent', 'delivery', 'Validity Period Expired', "the message waited in Twilio's queue longer than its validity period (codes use a short one) and was dropped. Usually a sender backlog: lower the load or add senders."),
];

const BY_CODE = new Map(TWILIO_ERRORS.map((r) => [r.code, r]));

/** The explanation for a Twilio error code, or undefined when we have none. */
export function explainTwilioError(code: number): TwilioErrorExplanation | undefined {
  return BY_CODE.get(code);
}

/** The guide's message for a code; unknown codes are delivery failures (they came on a message). */
export function guideMessageOf(code: number): string {
  return GUIDE_MESSAGES[BY_CODE.get(code)?.meaning ?? 'delivery'];
}

/**
 * One line naming a code as logs, the message log and the phone marks show it, e.g.
 * "21211 Invalid 'To' Phone Number (Invalid Phone Number)".
 */
export function describeTwilioError(code: number): string {
  const known = BY_CODE.get(code);
  return known ? `${code} ${known.title} (${GUIDE_MESSAGES[known.meaning]})` : `${code} (no explanation on file: https://www.twilio.com/docs/errors/${code})`;
}

/** What the provider knows about the request that failed, besides the error itself. */
export interface FailedRequest {
  /** The URL actually tried (after the base-URL override). */
  url: string | null;
  /** Retry-After header of the failing response, when there was one. */
  retryAfter: string | null;
  timeoutMs: number;
  /** Credentials to scrub from any text we pass on, whatever produced it. */
  secrets: readonly string[];
}

/** Retry-After in seconds or as an HTTP date, to milliseconds (null when absent or unreadable). */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

const NETWORK_PROBLEMS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host name not found (DNS)',
  EAI_AGAIN: 'DNS lookup failed for now',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed while sending',
  ERR_SOCKET_CONNECTION_TIMEOUT: 'connection timed out',
};

/** Network failures that happen before a request leaves: Twilio cannot have received it. */
const UNSENT_NETWORK_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_SOCKET_CONNECTION_TIMEOUT']);

interface ErrorFields {
  status?: unknown; code?: unknown; message?: unknown; moreInfo?: unknown; isAxiosError?: unknown;
  config?: { url?: unknown };
}

/**
 * Twilio's text without our credentials and without full phone numbers: Twilio quotes the number it
 * refused ("The 'To' number +1… is not a valid phone number"), and this text is stored with the
 * message and shown on staff screens, which see numbers masked.
 */
function scrub(text: string, secrets: readonly string[]): string {
  const out = secrets.reduce((acc, secret) => (secret.length >= 4 ? acc.split(secret).join('[redacted]') : acc), text);
  return out.replace(/\+\d{8,15}(?!\d)/g, (phone) => maskPhoneNumber(phone));
}

// The cause we attach is a plain copy: the SDK's errors carry the request config, whose
// Authorization header holds the credentials, and loggers serialise causes.
function safeCause(error: ErrorFields, secrets: readonly string[]): Error {
  const copy = new Error(scrub(typeof error.message === 'string' ? error.message : 'unknown error', secrets));
  Object.assign(copy, { code: error.code, status: error.status });
  return copy;
}

/** Classifies any failure of a Twilio SDK call into an SmsProviderError with an operator message. */
export function classifyTwilioFailure(error: unknown, request: FailedRequest): SmsProviderError {
  if (error instanceof SmsProviderError) return error;
  const fields: ErrorFields = typeof error === 'object' && error !== null ? error : { message: String(error) };
  const cause = safeCause(fields, request.secrets);
  const said = scrub(typeof fields.message === 'string' ? fields.message : '', request.secrets);

  if (typeof fields.status === 'number' && fields.isAxiosError !== true) {
    const httpStatus = fields.status;
    const twilioCode = typeof fields.code === 'number' ? fields.code : null;
    const moreInfo = typeof fields.moreInfo === 'string' ? fields.moreInfo : null;
    const row = twilioCode === null ? undefined : explainTwilioError(twilioCode);
    const kind: SmsErrorKind = row?.kind
      ?? (httpStatus === 401 ? 'authentication'
        : httpStatus === 429 ? 'rate_limited'
          : httpStatus >= 500 ? 'transient' : 'permanent');
    const title = row ? `${GUIDE_MESSAGES[row.meaning]}: ${row.title}` : (kind === 'authentication' ? 'Authentication Error'
      : kind === 'rate_limited' ? 'Too Many Requests'
        : kind === 'transient' ? 'Twilio Unavailable' : 'Twilio Refused the Request');
    const fix = row?.fix
      ?? (kind === 'authentication' ? CREDENTIALS_FIX
        : kind === 'rate_limited' ? 'Twilio asked us to slow down; retry later.'
          : kind === 'transient' ? `Twilio had a server error (HTTP ${httpStatus}); this is usually brief, retry later.`
            : "we have no fix on file for this code; read Twilio's message and the link.");
    const codeText = twilioCode === null ? `HTTP ${httpStatus}` : `Twilio ${twilioCode}, HTTP ${httpStatus}`;
    const parts = [`${title} (${codeText}): ${fix}`];
    // The SDK's stand-in text when the body was not Twilio JSON adds nothing to the status.
    if (said !== '' && !/^\[HTTP \d+\] Failed to execute request$/.test(said)) parts.push(`Twilio said: "${said}"`);
    if (moreInfo !== null) parts.push(`More: ${moreInfo}`);
    return new SmsProviderError({
      kind,
      message: parts.join(' '),
      twilioCode,
      httpStatus,
      retryAfterMs: kind === 'rate_limited' ? parseRetryAfter(request.retryAfter) : null,
      cause,
    });
  }

  const networkCode = typeof fields.code === 'string' ? fields.code : '';
  const url = request.url ?? (typeof fields.config?.url === 'string' ? fields.config.url : 'the Twilio API');
  const isTimeout = networkCode === 'ECONNABORTED' || networkCode === 'ETIMEDOUT' || /timeout/i.test(said);
  const problem = isTimeout ? `no answer within ${request.timeoutMs} ms (timeout)`
    : NETWORK_PROBLEMS[networkCode] ?? (/socket hang up/i.test(said) ? 'the connection closed before an answer (socket hang up)' : null);
  if (problem !== null) {
    return new SmsProviderError({
      kind: 'transient',
      message: `Could not reach Twilio at ${url}: ${problem}. Check your network or TWILIO_API_BASE_URL.`,
      // Refused or unresolved: nothing was sent. A timeout or a dropped connection: it may have been.
      mayHaveArrived: isTimeout || !UNSENT_NETWORK_CODES.has(networkCode),
      cause,
    });
  }
  return new SmsProviderError({
    kind: 'permanent',
    message: `Twilio request to ${url} failed: ${said === '' ? 'unknown error' : said}`,
    cause,
  });
}
