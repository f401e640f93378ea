// Domain errors that carry a message written for the person who can act on them.
// Only src/http and src/cli decide how a code is shown (HTTP status, exit code).

export type AppErrorCode =
  | 'config_invalid'
  | 'invalid_phone_number'
  | 'country_not_allowed'
  | 'not_found'
  | 'no_phone_number'
  | 'weak_password'
  | 'conflict'
  | 'database_locked'
  | 'database_full'
  | 'validation_failed'
  | 'sms_authentication'
  | 'sms_invalid_recipient'
  | 'sms_opted_out'
  | 'sms_insufficient_funds'
  | 'sms_rate_limited'
  | 'sms_transient'
  | 'sms_permanent'
  | 'unavailable'
  | 'unauthenticated'
  | 'session_expired'
  | 'forbidden'
  | 'account_locked'
  | 'account_inactive'
  | 'code_rejected'
  | 'code_expired'
  | 'code_used'
  | 'too_many_requests'
  | 'insufficient_funds'
  | 'idempotency_key_reused';

export class AppError extends Error {
  readonly code: AppErrorCode;
  /** A message for the user or operator: what happened and how to fix it. */
  readonly userMessage: string;

  constructor(code: AppErrorCode, userMessage: string, options?: { cause?: unknown }) {
    super(userMessage, options);
    this.name = 'AppError';
    this.code = code;
    this.userMessage = userMessage;
  }
}

/** The AppError in `error` or among its causes (Drizzle wraps what a driver throws). */
export function appErrorIn(error: unknown): AppError | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++) {
    if (e instanceof AppError) return e;
  }
  return undefined;
}

/** AppError 'too_many_requests' that says when to try again (HTTP: Retry-After). */
export class RetryLaterError extends AppError {
  readonly retryAfterSeconds: number;

  constructor(userMessage: string, retryAfterSeconds: number) {
    super('too_many_requests', userMessage);
    this.name = 'RetryLaterError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
