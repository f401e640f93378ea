// The daily digest's scheduled half: every hour, each customer with held transaction alerts whose
// local morning has come (08:00, and past their quiet hours) gets yesterday's summary as one SMS.
// Collecting the items, queueing the SMS and marking the items sent happen in one transaction,
// and the summary is a notification keyed by its date, so two workers running the job at once
// (or a replayed job) send it once. A missed run only delays it: the next one finds it still due.
import { isNull } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import { notificationDigestItems } from '../db/schema.ts';
import { queueSms } from '../sms/outbox.ts';
import { maskPhoneNumber } from '../sms/phone.ts';
import { usablePhoneNumber } from '../sms/phone-status.ts';
import { findUserById } from '../users/users.ts';
import { notificationType } from './catalogue.ts';
import { customerLanguage } from './compose.ts';
import { buildDigestSms, collectDigest, markDigestSent } from './digest.ts';
import { getNotificationSettings } from './preferences.ts';
import { localDate, nextSendTime, wallTimeIn } from './quiet-hours.ts';
import { insertNotification, updateNotification } from './records.ts';
import { localeFor } from './templates/format.ts';

/** Local hour from which yesterday's summary goes out. */
export const DIGEST_HOUR = 8;

export type DigestResult =
  | { status: 'not_due' | 'nothing_held' | 'already_sent' }
  | { status: 'queued'; digestDate: string; items: number; messageId: string; destination: string }
  | { status: 'skipped'; digestDate: string; items: number; reason: string };

type DigestContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'> & Partial<Pick<AppContext, 'metrics'>>;

function dayBefore(date: string): string {
  const d = new Date(`${date}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

/** Sends one customer's summary of yesterday (and any earlier day not yet summarised) if it is due. */
export async function sendDailyDigest(ctx: DigestContext, userId: string): Promise<DigestResult> {
  const now = ctx.clock.now();
  const spec = notificationType('transaction');
  let sms: { segments: number; estimatedPrice: number } | undefined;
  const result = await ctx.db.transaction(async (tx): Promise<DigestResult> => {
    const settings = await getNotificationSettings(tx, userId);
    const morning = wallTimeIn(now, settings.timeZone).hour >= DIGEST_HOUR;
    if (!morning || nextSendTime(now, settings.timeZone, settings.quietHours, spec) > now) return { status: 'not_due' };
    const digestDate = dayBefore(localDate(now, settings.timeZone));
    const held = await collectDigest(tx, userId, digestDate);
    if (!held.itemIds.length) return { status: 'nothing_held' };
    const row = await insertNotification(tx, {
      userId, type: spec.id, eventKey: `digest:${digestDate}`, channel: 'sms', values: { items: held.itemIds.length },
      status: 'pending', reason: 'daily_digest', createdAt: now, updatedAt: now,
    });
    if (!row) return { status: 'already_sent' };
    await markDigestSent(tx, held.itemIds, now);

    const phone = await usablePhoneNumber(tx, ctx.config, (await findUserById(tx, userId))?.phoneNumber ?? null);
    if (typeof phone === 'string') {
      await updateNotification(tx, row.id, { status: 'skipped', reason: `daily_digest: ${phone}` });
      return { status: 'skipped', digestDate, items: held.itemIds.length, reason: phone };
    }
    const language = await customerLanguage(tx, userId);
    const body = buildDigestSms(held.entries, { language, locale: localeFor(language), digestDate });
    const queued = await queueSms(ctx, tx, { type: spec.id, lane: 'sms.bulk', userId, to: phone.e164, country: phone.country, body });
    await updateNotification(tx, row.id, { status: 'queued', smsMessageId: queued.id });
    sms = queued;
    return { status: 'queued', digestDate, items: held.itemIds.length, messageId: queued.id, destination: maskPhoneNumber(phone.e164) };
  });
  // Counted once committed, like the policy step's decisions (dispatch.ts).
  if (result.status === 'queued' || result.status === 'skipped') {
    ctx.metrics?.notifications.inc({ type: spec.id, channel: 'sms', outcome: result.status === 'queued' ? 'sent' : 'skipped' });
  }
  if (sms) {
    ctx.metrics?.smsQueuedSegments.inc({ type: spec.id }, sms.segments);
    ctx.metrics?.smsQueuedCost.inc({ type: spec.id }, sms.estimatedPrice);
  }
  return result;
}

/** The hourly job: every customer with held items, each in a transaction of their own. */
export async function runDigestJob(ctx: DigestContext & Pick<AppContext, 'logger'>): Promise<number> {
  const users = await ctx.db.selectDistinct({ userId: notificationDigestItems.userId }).from(notificationDigestItems).where(isNull(notificationDigestItems.sentAt));
  let sent = 0;
  for (const { userId } of users) {
    try {
      const result = await sendDailyDigest(ctx, userId);
      if (result.status === 'queued') sent++;
    } catch (error) {
      // One customer's bad data (an unknown time zone) must not hold back everyone else's summary.
      ctx.logger.error({ err: error, userId }, 'daily digest failed for a customer');
    }
  }
  if (sent) ctx.logger.info({ sent }, 'daily digests queued');
  return sent;
}
