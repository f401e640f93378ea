// What each Twilio failure means for us (retry or not, whose fix) and what the operator should do.
// The table is data so the CLI can print the fix for a code seen in the logs or a status callback.
import { SmsProviderError } from './provider.ts';
import type { SmsErrorKind } from './provider.ts';

export interface TwilioErrorExplanation {
  code: number;
  kind: SmsErrorKind;
  /** Short heading, e.g. "Invalid Recipient". */
  title: string;
  /** What it means and how to fix it, for an operator. */
  fix: string;
}

const CREDENTIALS_FIX =
  'Twilio rejected the Account SID / Auth Token (or API key SID / secret). Check TWILIO_ACCOUNT_SID and ' +
  'TWILIO_AUTH_TOKEN in .env, copied from console.twilio.com (Account Info on the dashboard); a rotated ' +
  'token stops working at once, test credentials only work with the magic test numbers, and an API key ' +
  'must belong to this account.';

/** One row per Twilio error code we treat specially; everything else is 'permanent'. */
export const TWILIO_ERRORS: readonly TwilioErrorExplanation[] = [
  { code: 20003, kind: 'authentication', title: 'Authentication Error', fix: CREDENTIALS_FIX },
  // Twilio documents 20005 as "Account not active: potentially because you ran out of funds"
  // (twilio.com/docs/api/errors/20005) and 10001 as "Account is not active: balance reached $0".
  // There is no separate "low balance" code: an empty balance suspends the account.
  { code: 20005, kind: 'insufficient_funds', title: 'Insufficient Funds', fix: 'the Twilio account is not active, usually because its balance ran out. Add credit in the Twilio console (Billing) and consider auto-recharge; sends resume a few minutes after the top-up.' },
  { code: 10001, kind: 'insufficient_funds', title: 'Insufficient Funds', fix: 'the Twilio account is not active (balance at $0 or suspended). Add credit in the Twilio console (Billing); if it stays suspended after paying, contact Twilio Support.' },
  { code: 20008, kind: 'permanent', title: 'Not Available With Test Credentials', fix: "Twilio's test credentials cannot read this resource (account balance, phone numbers, message history). Use the live Account SID and Auth Token to check it." },
  { code: 20404, kind: 'permanent', title: 'Not Found', fix: 'the resource does not exist on this account: a wrong message SID, or TWILIO_ACCOUNT_SID points at another account than the one that sent it.' },
  { code: 20429, kind: 'rate_limited', title: 'Too Many Requests', fix: 'more than about 100 API requests were in flight for this account. Lower the worker concurrency and retry later.' },
  { code: 21211, kind: 'invalid_recipient', title: 'Invalid Recipient', fix: "the 'To' number is not a valid phone number. Ask the customer to correct their phone number (E.164, e.g. +14155552671)." },
  { code: 21217, kind: 'invalid_recipient', title: 'Invalid Recipient', fix: "the 'To' number does not appear to be a valid phone number. Ask the customer to correct it." },
  { code: 21407, kind: 'invalid_recipient', title: 'Invalid Recipient', fix: 'this phone number type (e.g. a landline or pager) cannot receive SMS. Ask the customer for a mobile number.' },
  { code: 21408, kind: 'invalid_recipient', title: 'Invalid Recipient', fix: "permission to send to this region is not enabled: enable it under Messaging → Settings → Geo permissions in the Twilio console, and add the country to SMS_ALLOWED_COUNTRIES only if the bank serves it." },
  { code: 21421, kind: 'invalid_recipient', title: 'Invalid Recipient', fix: 'the phone number is invalid. Ask the customer to correct their phone number.' },
  { code: 21612, kind: 'invalid_recipient', title: 'Invalid Recipient', fix: "Twilio cannot route SMS from this sender to the 'To' number (landline, unsupported carrier or region). Ask the customer for another mobile number." },
  { code: 21614, kind: 'invalid_recipient', title: 'Invalid Recipient', fix: "the 'To' number is not a mobile number and cannot receive SMS. Ask the customer for a mobile number." },
  { code: 21610, kind: 'opted_out', title: 'Recipient Opted Out', fix: 'the customer replied STOP to this sender, so Twilio blocks further messages. Do not retry; they can text START to the same number to opt back in.' },
  { code: 21611, kind: 'rate_limited', title: 'Sender Queue Full', fix: "this 'From' number has too many queued messages (over about 4 hours of backlog at its throughput). Slow down, spread traffic over more senders or use a Messaging Service." },
  { code: 14107, kind: 'rate_limited', title: 'Send Rate Limit', fix: 'the SMS send rate limit was exceeded. Slow down and retry later.' },
  { code: 30001, kind: 'rate_limited', title: 'Queue Overflow', fix: "Twilio's queue for this sender overflowed because messages arrived faster than its throughput. Slow down or add senders." },
  { code: 21606, kind: 'permanent', title: 'Phone Number Not Configured', fix: "21606 means the 'From' number is not owned by this account or not SMS-capable. Set TWILIO_PHONE_NUMBER to a number listed under Phone Numbers → Active numbers with SMS capability (check with `dominion test_twilio_sms --phone-numbers`)." },
  { code: 21212, kind: 'permanent', title: 'Invalid From Number', fix: "the 'From' number is not a valid phone number or alphanumeric sender ID. Set TWILIO_PHONE_NUMBER in E.164 form, e.g. +14155550100." },
  { code: 21659, kind: 'permanent', title: 'Invalid From Number', fix: "the 'From' number is not a Twilio number or short code of this account (or not usable for this destination country). Use one of the account's own numbers." },
  { code: 21603, kind: 'permanent', title: 'Missing From Number', fix: "a 'From' number or Messaging Service SID is required. Set TWILIO_PHONE_NUMBER or TWILIO_MESSAGING_SERVICE_SID." },
  { code: 21602, kind: 'permanent', title: 'Missing Body', fix: 'the message body is empty. Check the template that rendered it.' },
  { code: 21604, kind: 'permanent', title: 'Missing To Number', fix: "a 'To' number is required. Check that the customer has a phone number on file." },
  { code: 21617, kind: 'permanent', title: 'Body Too Long', fix: 'the body exceeds 1,600 characters. Shorten the template.' },
  { code: 21608, kind: 'permanent', title: 'Trial Account Restriction', fix: 'trial accounts can only send to verified numbers. Verify the number under Phone Numbers → Verified Caller IDs, or upgrade the account.' },
  { code: 21609, kind: 'permanent', title: 'Invalid Status Callback', fix: 'the StatusCallback URL is not a valid http(s) URL. Check the public base URL setting the webhook URL is built from.' },
  // Delivery failures: these arrive on the message (status undelivered / failed), never as a
  // refused request, so their kind only matters for how the message log explains them.
  { code: 30003, kind: 'permanent', title: 'Unreachable Handset', fix: 'the phone was switched off or out of coverage when the carrier tried. Ask the customer to check their phone and try again later; repeated 30003 may mean the number is no longer in use.' },
  { code: 30004, kind: 'opted_out', title: 'Message Blocked', fix: 'the recipient or their carrier blocked the message (a block on the handset, a do-not-disturb list, or the carrier). Ask the customer to allow messages from the bank.' },
  { code: 30005, kind: 'invalid_recipient', title: 'Unknown Handset', fix: 'the carrier does not know this number (it may not exist or no longer be in service). Ask the customer to confirm their phone number.' },
  { code: 30006, kind: 'invalid_recipient', title: 'Landline or Unreachable Carrier', fix: 'the number is a landline or its carrier cannot receive SMS. Ask the customer for a mobile number.' },
  { code: 30007, kind: 'permanent', title: 'Carrier Filtering', fix: "the carrier filtered the message as spam. Review the message content, and register the sender (A2P 10DLC or toll-free verification) in the Twilio console." },
  { code: 30008, kind: 'permanent', title: 'Unknown Delivery Error', fix: 'the carrier reported no reason. Try again; if it persists for this number, open a ticket with Twilio Support quoting the message SID.' },
  { code: 30036, kind: 'permanent', title: 'Validity Period Expired', fix: "the message waited in Twilio's queue longer than its validity period (codes use a short one) and was dropped. Usually a sender throughput backlog: slow down or add senders." },
  { code: 90007, kind: 'permanent', title: 'Invalid Validity Period', fix: 'ValidityPeriod must be whole seconds between 1 and 36,000. Check the expiry configured for this message type.' },
];

const BY_CODE = new Map(TWILIO_ERRORS.map((row) => [row.code, row]));

/** The explanation for a Twilio error code, or undefined when we have none. */
export function explainTwilioError(code: number): TwilioErrorExplanation | undefined {
  return BY_CODE.get(code);
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

interface ErrorFields {
  status?: unknown; code?: unknown; message?: unknown; moreInfo?: unknown; isAxiosError?: unknown;
  config?: { url?: unknown };
}

function scrub(text: string, secrets: readonly string[]): string {
  return secrets.reduce((out, secret) => (secret.length >= 4 ? out.split(secret).join('[redacted]') : out), text);
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
    const title = row?.title ?? (kind === 'authentication' ? 'Authentication Error'
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
      cause,
    });
  }
  return new SmsProviderError({
    kind: 'permanent',
    message: `Twilio request to ${url} failed: ${said === '' ? 'unknown error' : said}`,
    cause,
  });
}
