// Sends a notification to a user by SMS: the one entry point every alert and code goes through.
// The type comes from the catalogue (its lane, whether it carries a code), the text from the
// active template in the customer's language, rendered with their locale and time zone. It queues
// in the caller's transaction, so the change that caused the notification and the message commit
// together. (Preferences, quiet hours, digests and limits join here as the pipeline grows.)
import { eq } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { userProfiles } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { SmsLane } from '../jobs/registry.ts';
import { queueSms } from '../sms/outbox.ts';
import { maskPhoneNumber, normalisePhoneNumber } from '../sms/phone.ts';
import { phonePolicyFor } from '../sms/phone-policy.ts';
import { findUserById, requirePhoneNumber } from '../users/users.ts';
import { notificationType, type NotificationTypeId } from './catalogue.ts';
import { getNotificationSettings } from './preferences.ts';
import { localeFor } from './templates/format.ts';
import { renderTemplate, type TemplateValues } from './templates/render.ts';
import { activeTemplate } from './templates/store.ts';

export interface Notification {
  userId: string;
  type: NotificationTypeId;
  /** Values of the type's template variables (see `dominion notifications types`). */
  values: TemplateValues;
  /** For code types: the challenge whose code the worker mints into the message. */
  otpChallengeId?: string;
  /** Not sent after this instant (a code's expiry). */
  sendBefore?: Date;
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
  const spec = notificationType(notification.type);
  if (spec.carriesCode !== Boolean(notification.otpChallengeId)) {
    throw new Error(`${spec.id} ${spec.carriesCode ? 'needs' : 'cannot take'} a one-time code challenge`);
  }
  const user = await findUserById(tx, notification.userId);
  if (!user) throw new AppError('not_found', `No user with id ${notification.userId}.`);
  const phone = normalisePhoneNumber(requirePhoneNumber(user), phonePolicyFor(ctx.config));
  const [profile] = await tx.select({ language: userProfiles.language }).from(userProfiles).where(eq(userProfiles.userId, user.id));
  const language = profile?.language ?? 'en';
  const { timeZone } = await getNotificationSettings(tx, user.id);
  const template = await activeTemplate(tx, spec.id, language, 'sms');
  const body = renderTemplate(spec, template.body, notification.values, { locale: localeFor(template.language), timeZone });
  const queued = await queueSms(ctx, tx, {
    type: spec.id,
    lane: spec.lane,
    userId: user.id,
    to: phone.e164,
    country: phone.country,
    body,
    otpChallengeId: notification.otpChallengeId,
    sendBefore: notification.sendBefore,
  });
  return { messageId: queued.id, destination: maskPhoneNumber(phone.e164), lane: spec.lane, segments: queued.segments, estimatedPrice: queued.estimatedPrice };
}
