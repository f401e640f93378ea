// Tells a customer, by email and once per marking, that texts no longer reach their number and
// how to fix it. The job is queued in the transaction that marked the number (phone-status.ts);
// the notification is keyed by the number and the instant of the marking, so a replayed job, or
// two failures marking it in the same instant, email once. Staff see when it was sent on the
// customer's profile page (unreachable_notified_at).
import { and, eq } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import { phoneStatus, userProfiles } from '../db/schema.ts';
import type { PhoneUnreachableJob } from '../jobs/registry.ts';
import { notifyUser } from './send.ts';

export async function notifyPhoneUnreachable(ctx: AppContext, job: PhoneUnreachableJob): Promise<number> {
  const markedAt = new Date(job.markedAt);
  return ctx.db.transaction(async (tx) => {
    // The mark may have been lifted meanwhile (a delivery, staff): then there is nothing to say.
    const [mark] = await tx.select({ unreachableAt: phoneStatus.unreachableAt }).from(phoneStatus).where(eq(phoneStatus.phoneNumber, job.phoneNumber));
    if (mark?.unreachableAt?.getTime() !== markedAt.getTime()) return 0;
    const owners = await tx.select({ userId: userProfiles.userId }).from(userProfiles).where(eq(userProfiles.phoneNumber, job.phoneNumber));
    let emailed = 0;
    for (const { userId } of owners) {
      const queued = await notifyUser(ctx, tx, {
        userId, type: 'phone_unreachable', values: { phone_last4: job.phoneNumber, time: markedAt },
        eventKey: `phone-unreachable:${job.phoneNumber}:${job.markedAt}`,
      });
      // Skipped when the customer has no email address: staff then see nobody was told.
      if (queued.notifications.some((n) => n.channel === 'email' && n.status !== 'skipped')) emailed++;
    }
    if (emailed) {
      await tx.update(phoneStatus).set({ unreachableNotifiedAt: ctx.clock.now() })
        .where(and(eq(phoneStatus.phoneNumber, job.phoneNumber), eq(phoneStatus.unreachableAt, markedAt)));
    }
    ctx.logger[emailed ? 'info' : 'warn']({ owners: owners.length, emailed }, 'a number was marked unreachable; its owners told by email where they have an address');
    return emailed;
  });
}
