// Exit codes of every command, documented in the README: scripts can tell failures apart.
import type { AppErrorCode } from '../errors.ts';
import type { Problem } from '../twilio-setup/report.ts';

export const EXIT = {
  ok: 0,
  /** Unexpected failure (a bug, or something not classified below). */
  failure: 1,
  /** Wrong flags or arguments; a refused input such as a weak password. */
  usage: 2,
  /** Configuration invalid ("Invalid credentials": SID or token malformed). */
  config: 3,
  /** Twilio rejected the credentials ("Authentication Error", 20003). */
  authentication: 4,
  /** TWILIO_PHONE_NUMBER missing, malformed or not on the account. */
  phoneNotConfigured: 5,
  /** Unknown user, "User has no phone number", or a user that already exists. */
  user: 6,
  /** "Invalid Phone Number" or a destination country not allowed. */
  invalidPhone: 7,
  /** "Insufficient Funds". */
  funds: 8,
  /** "Message Delivery Failed": Twilio refused or could not deliver the message. */
  delivery: 9,
  /** Twilio (or the simulator) unreachable or timed out. */
  network: 10,
  /** Rate limited: try again later. */
  rateLimited: 11,
  /** Database unreachable, locked by another process, not migrated, or out of disk space. */
  database: 12,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const BY_ERROR: Partial<Record<AppErrorCode, ExitCode>> = {
  config_invalid: EXIT.config,
  invalid_phone_number: EXIT.invalidPhone,
  country_not_allowed: EXIT.invalidPhone,
  not_found: EXIT.user,
  no_phone_number: EXIT.user,
  conflict: EXIT.user,
  validation_failed: EXIT.usage,
  weak_password: EXIT.usage,
  database_locked: EXIT.database,
  database_full: EXIT.database,
  sms_authentication: EXIT.authentication,
  sms_invalid_recipient: EXIT.delivery,
  sms_opted_out: EXIT.delivery,
  sms_insufficient_funds: EXIT.funds,
  sms_rate_limited: EXIT.rateLimited,
  sms_transient: EXIT.network,
  sms_permanent: EXIT.delivery,
  unavailable: EXIT.database,
};

export function exitCodeOf(code: AppErrorCode): ExitCode {
  return BY_ERROR[code] ?? EXIT.failure;
}

const BY_PROBLEM: Record<Problem, ExitCode> = {
  invalid_credentials: EXIT.config,
  invalid_configuration: EXIT.config,
  authentication: EXIT.authentication,
  phone_not_configured: EXIT.phoneNotConfigured,
  unknown_user: EXIT.user,
  no_phone_number: EXIT.user,
  invalid_phone: EXIT.invalidPhone,
  insufficient_funds: EXIT.funds,
  delivery_failed: EXIT.delivery,
  network: EXIT.network,
  rate_limited: EXIT.rateLimited,
  database: EXIT.database,
  unexpected: EXIT.failure,
};

/** Exit code of a `test_twilio_sms` failure. */
export function exitCodeOfProblem(problem: Problem | undefined): ExitCode {
  return problem === undefined ? EXIT.failure : BY_PROBLEM[problem];
}
