// What a customer is told when a one-time code is refused, the same for every purpose.
import { AppError } from '../errors.ts';
import { OTP_POLICY, type OtpCheck } from './challenges.ts';

interface RefusalText {
  attemptsLeft: number;
  /** How to get a new code, e.g. "Sign in again to get a new one." */
  again: string;
}

/** The AppError for a refused code; undefined for 'ok'. */
export function otpCheckError(check: Exclude<OtpCheck, 'ok'>, input: RefusalText): AppError;
export function otpCheckError(check: OtpCheck, input: RefusalText): AppError | undefined;
export function otpCheckError(check: OtpCheck, input: RefusalText): AppError | undefined {
  switch (check) {
    case 'ok':
      return undefined;
    case 'wrong_code': {
      const left = input.attemptsLeft;
      return new AppError('code_rejected', `Wrong code: ${left} ${left === 1 ? 'attempt' : 'attempts'} left. Check the latest SMS from DominionTrust.`);
    }
    case 'expired':
      return new AppError('code_expired', `Code expired: a code is valid for ${OTP_POLICY.ttlMs / 60_000} minutes. ${input.again}`);
    case 'already_used':
      return new AppError('code_used', `Code already used: each code works once. ${input.again}`);
    case 'too_many_attempts':
      return new AppError('too_many_requests', `Too many wrong codes: this code no longer works after ${OTP_POLICY.maxAttempts} attempts. ${input.again}`);
    case 'not_sent':
      return new AppError('conflict', 'The code has not been sent yet: wait for the SMS, then type the code it carries.');
    case 'not_found':
      return new AppError('code_rejected', `No code is waiting with this challengeId. ${input.again}`);
  }
}
