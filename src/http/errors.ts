// The one place domain error codes become HTTP statuses. 5xx answers never show internals.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DATABASE_RETRY_AFTER_SECONDS, DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from '../db/availability.ts';
import { databaseFullIn } from '../db/embedded-disk.ts';
import { AppError, RetryLaterError, type AppErrorCode } from '../errors.ts';

const STATUS: Partial<Record<AppErrorCode, number>> = {
  config_invalid: 500,
  invalid_phone_number: 400,
  country_not_allowed: 400,
  validation_failed: 400,
  not_found: 404,
  no_phone_number: 409,
  weak_password: 400,
  conflict: 409,
  sms_rate_limited: 429,
  database_locked: 503,
  database_full: 503,
  unavailable: 503,
  unauthenticated: 401,
  session_expired: 401,
  forbidden: 403,
  account_locked: 423,
  account_inactive: 403,
  code_rejected: 400,
  code_expired: 410,
  code_used: 410,
  too_many_requests: 429,
  insufficient_funds: 422,
  idempotency_key_reused: 422,
};

export function httpStatusOf(code: AppErrorCode): number {
  return STATUS[code] ?? 502;
}

export function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // The embedded database's disk is full (the process is stopping): the operator's fix, as a 503.
  const full = databaseFullIn(error);
  if (full) {
    request.log.error({ err: error }, 'embedded database disk full; answered 503');
    return reply.status(503).header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS)).send({ error: full.code, message: full.userMessage });
  }
  if (error instanceof AppError) {
    const status = httpStatusOf(error.code);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    if (error instanceof RetryLaterError) void reply.header('retry-after', String(error.retryAfterSeconds));
    return reply.status(status).send({ error: error.code, message: error.userMessage });
  }
  const statusCode = (error as FastifyError).statusCode;
  if (statusCode && statusCode < 500) {
    return reply.status(statusCode).send({ error: (error as FastifyError).code ?? 'bad_request', message: error.message });
  }
  if (isDatabaseUnavailable(error)) {
    request.log.warn({ err: error }, 'database unreachable; answered 503');
    return reply.status(503).header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS)).send({ error: 'unavailable', message: DATABASE_UNAVAILABLE_MESSAGE });
  }
  request.log.error({ err: error }, 'unexpected error');
  return reply.status(500).send({ error: 'internal_error', message: 'Something went wrong on our side; it has been logged.' });
}
