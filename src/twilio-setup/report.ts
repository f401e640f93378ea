// The result of `test_twilio_sms`: a list of checks, each passed, a warning, or a failure that
// names the problem in the words of the setup guide operators know ("Authentication Error",
// "Insufficient Funds" ...) with its fix. Plain data, so the server can send it to the CLI.
import { AppError } from '../errors.ts';
import { ConfigError } from '../config.ts';
import { SmsProviderError } from '../sms/provider.ts';
import { E164_HINT } from '../sms/phone.ts';
import { explainTwilioError, GUIDE_MESSAGES, type TwilioErrorMeaning } from '../sms/twilio-errors.ts';

export type CheckLevel = 'ok' | 'warn' | 'fail';

/** What went wrong, one per message of the guide's troubleshooting table; the CLI maps each to an exit code. */
export type Problem =
  | 'invalid_credentials'
  | 'invalid_configuration'
  | 'authentication'
  | 'phone_not_configured'
  | 'unknown_user'
  | 'no_phone_number'
  | 'invalid_phone'
  | 'insufficient_funds'
  | 'delivery_failed'
  | 'network'
  | 'rate_limited'
  | 'database'
  | 'unexpected';

export const PROBLEM_TITLES: Record<Problem, string> = {
  invalid_credentials: 'Invalid credentials',
  invalid_configuration: 'Invalid configuration',
  authentication: 'Authentication Error',
  phone_not_configured: 'Phone number not configured',
  unknown_user: 'Unknown user',
  no_phone_number: 'User has no phone number',
  invalid_phone: 'Invalid Phone Number',
  insufficient_funds: 'Insufficient Funds',
  delivery_failed: 'Message Delivery Failed',
  network: 'Twilio unreachable',
  rate_limited: 'Rate limited',
  database: 'Database unavailable',
  unexpected: 'Unexpected error',
};

export interface Check {
  /** Stable identifier for scripts, e.g. "twilio.credentials". */
  name: string;
  /** False only for failures; warnings pass. */
  ok: boolean;
  level: CheckLevel;
  /** What was checked, or for a failure the problem's title from PROBLEM_TITLES. */
  title: string;
  detail: string;
  /** For failures and warnings: what to do. */
  fix?: string;
  /** For failures: the problem. */
  code?: Problem;
  /** Twilio's error code when Twilio reported one. */
  twilioCode?: number;
}

export function passed(name: string, title: string, detail: string): Check {
  return { name, ok: true, level: 'ok', title, detail };
}

export function warning(name: string, title: string, detail: string, fix?: string): Check {
  return { name, ok: true, level: 'warn', title, detail, ...(fix ? { fix } : {}) };
}

export function failed(name: string, code: Problem, detail: string, fix: string, extra: { title?: string; twilioCode?: number | null } = {}): Check {
  return {
    name, ok: false, level: 'fail', title: extra.title ?? PROBLEM_TITLES[code], detail, fix, code,
    ...(extra.twilioCode != null ? { twilioCode: extra.twilioCode } : {}),
  };
}

export const NETWORK_FIX =
  'Check that this machine can reach that address (network, proxy, firewall, DNS) and that TWILIO_API_BASE_URL is right. ' +
  'In simulator mode the simulator must be running: `npm start` runs one, or `npx dominion twilio-sim`.';
const RATE_FIX = 'Twilio asked to slow down. Wait a minute and run the command again; if it keeps happening, lower WORKER_CONCURRENCY.';
/** The guide's problem (and so the exit code) for each meaning of the Twilio error table. */
const PROBLEM_OF_MEANING: Record<TwilioErrorMeaning, Problem> = {
  credentials: 'authentication',
  test_credentials: 'invalid_credentials',
  sender: 'phone_not_configured',
  recipient: 'invalid_phone',
  opted_out: 'invalid_phone',
  region: 'invalid_phone',
  funds: 'insufficient_funds',
  delivery: 'delivery_failed',
  rate: 'rate_limited',
  request: 'invalid_configuration',
  twilio_down: 'network',
};

/** Which problem a Twilio error code is, for codes seen on a refused request or on a message. */
export function problemOfTwilioCode(code: number): Problem {
  return PROBLEM_OF_MEANING[explainTwilioError(code)?.meaning ?? 'delivery'];
}

/**
 * The check for a Twilio error code, from the one table: the guide's message as the title,
 * Twilio's own title, the fix and the docs link.
 */
export function twilioCodeCheck(name: string, code: number, context: string): Check {
  const explanation = explainTwilioError(code);
  const detail = `${context}: Twilio error ${code}${explanation ? ` (${explanation.title})` : ''}. See https://www.twilio.com/docs/errors/${code}`;
  const fix = explanation?.fix ?? "No fix on file for this code: read Twilio's page for it (link above).";
  const title = GUIDE_MESSAGES[explanation?.meaning ?? 'delivery'];
  return failed(name, problemOfTwilioCode(code), detail, fix, { twilioCode: code, title });
}

/** A failure check for an error a step threw that has a message for operators (AppError); rethrows any other. */
export function checkFromError(name: string, error: unknown, context: string): Check {
  if (error instanceof SmsProviderError) {
    if (error.twilioCode !== null) return twilioCodeCheck(name, error.twilioCode, context);
    if (error.kind === 'transient') {
      const title = /timeout/.test(error.userMessage) ? 'Twilio timed out' : undefined;
      return failed(name, 'network', error.userMessage, NETWORK_FIX, { title });
    }
    if (error.kind === 'authentication') return failed(name, 'authentication', `${context}: ${error.userMessage}`, 'Check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.');
    if (error.kind === 'rate_limited') return failed(name, 'rate_limited', error.userMessage, RATE_FIX);
    return failed(name, 'delivery_failed', error.userMessage, 'Read the message above; the request was refused.');
  }
  if (error instanceof ConfigError) return failed(name, 'invalid_configuration', error.userMessage, 'Fix the settings listed, in .env or the environment.');
  if (error instanceof AppError) {
    switch (error.code) {
      case 'invalid_phone_number':
        return failed(name, 'invalid_phone', error.userMessage.replace(` ${E164_HINT}`, '').replace(/^Invalid Phone Number: /, ''), E164_HINT);
      case 'country_not_allowed':
        return failed(name, 'invalid_phone', error.userMessage.replace(/^Country Not Allowed: /, ''), 'Use a number in an allowed country, or allow the country (see above).', { title: 'Country Not Allowed' });
      case 'not_found':
        return failed(name, 'unknown_user', error.userMessage, 'Check the username, or create the user with `npx dominion createuser`.');
      case 'no_phone_number':
        return failed(name, 'no_phone_number', error.userMessage, 'Add one with `npx dominion users set-phone USERNAME NUMBER`.');
      case 'sms_rate_limited':
        return failed(name, 'rate_limited', error.userMessage, 'Wait until the time given; the limits (CODE_NUMBER_LIMIT, CODE_IP_LIMIT, CODE_COUNTRY_HOURLY_LIMIT) protect against SMS pumping.');
      case 'config_invalid':
        return failed(name, 'invalid_configuration', error.userMessage, 'Fix the setting named above in .env or the environment.');
      case 'database_locked':
      case 'unavailable':
        return failed(name, 'database', error.userMessage, 'Stop the process holding the embedded database (or let the command run through the server: `npm start`), or use PostgreSQL (DATABASE_URL).');
      default:
        return failed(name, 'unexpected', error.userMessage, 'Read the message: it says what to change.');
    }
  }
  // Anything else is a bug or an outage nobody described: it leaves as it came, so the CLI shows
  // it with --verbose and the server logs it.
  throw error;
}

/** The overall result: passed when no check failed. */
export function allPassed(checks: readonly Check[]): boolean {
  return checks.every((check) => check.ok);
}
