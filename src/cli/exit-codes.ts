// Exit codes of every command, documented in the README: scripts can tell failures apart.
import type { AppErrorCode } from '../errors.ts';

export const EXIT = {
  ok: 0,
  /** Unexpected failure (a bug, or something not classified below). */
  failure: 1,
  /** Wrong flags or arguments. */
  usage: 2,
  /** Configuration invalid ("Invalid credentials": SID or token malformed). */
  config: 3,
  /** Twilio rejected the credentials ("Authentication Error", 20003). */
  authentication: 4,
  /** TWILIO_PHONE_NUMBER missing, malformed or not on the account. */
  phoneNotConfigured: 5,
  /** Unknown user, or "User has no phone number". */
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
  /** Database unreachable, locked by another process, or not migrated. */
  database: 12,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const BY_ERROR: Partial<Record<AppErrorCode, ExitCode>> = {
  config_invalid: EXIT.config,
  invalid_phone_number: EXIT.invalidPhone,
  country_not_allowed: EXIT.invalidPhone,
  not_found: EXIT.user,
  database_locked: EXIT.database,
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
