// Sends a notification to a user by SMS: the one entry point every alert goes through (security
// alerts now; transaction, card and account alerts with preferences and quiet hours later).
// It queues in the caller's transaction, so the change that caused the alert and the alert
// commit together.
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { AppError } from '../errors.ts';
import type { SmsLane } from '../jobs/registry.ts';
import { queueSms } from '../sms/outbox.ts';
import { maskPhoneNumber, normalisePhoneNumber } from '../sms/phone.ts';
import { phonePolicyFor } from '../sms/phone-policy.ts';
import { findUserById, requirePhoneNumber } from '../users/users.ts';

export type NotificationType = 'security_alert' | 'login_alert' | 'account_lockout' | 'transaction_alert' | 'account_update';

/** Security notices never wait behind other traffic; the rest go on the standard lane. */
const LANE: Record<NotificationType, SmsLane> = {
  security_alert: 'sms.critical',
  login_alert: 'sms.critical',
  account_lockout: 'sms.critical',
  transaction_alert: 'sms.standard',
  account_update: 'sms.standard',
};

export interface Notification {
  userId: string;
  type: NotificationType;
  /** The full text, starting with the bank's name. */
  body: string;
}

export interface NotificationQueued {
  messageId: string;
  /** Last four digits only. */
  destination: string;
  lane: SmsLane;
  segments: number;
  estimatedPrice: number;
}

/** Queues a notification SMS. Throws AppError 'not_found' or 'no_phone_number'. */
export async function notifyUser(ctx: Pick<AppContext, 'jobs' | 'config' | 'clock'>, tx: Queryable, notification: Notification): Promise<NotificationQueued> {
  const user = await findUserById(tx, notification.userId);
  if (!user) throw new AppError('not_found', `No user with id ${notification.userId}.`);
  const phone = normalisePhoneNumber(requirePhoneNumber(user), phonePolicyFor(ctx.config));
  const lane = LANE[notification.type];
  const queued = await queueSms(ctx, tx, {
    type: notification.type,
    lane,
    userId: user.id,
    to: phone.e164,
    country: phone.country,
    body: notification.body,
  });
  return { messageId: queued.id, destination: maskPhoneNumber(phone.e164), lane, segments: queued.segments, estimatedPrice: queued.estimatedPrice };
}
