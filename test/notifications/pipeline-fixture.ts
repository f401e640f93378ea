// What the notification pipeline tests share: a whole test context (its own database, the Twilio
// simulator through the real SDK, a held clock) with SMTP pointed at a real SMTP server on
// loopback, customers inserted directly, and ways to read what each one received and why.
import { eq } from 'drizzle-orm';
import { notifications, smsMessages, userProfiles, users } from '../../src/db/schema.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { CATALOGUE, type NotificationTypeSpec } from '../../src/notifications/catalogue.ts';
import type { NotificationRow } from '../../src/notifications/records.ts';
import { exampleValues } from '../../src/notifications/templates/render.ts';
import { notifyUser, type Notification, type NotificationQueued } from '../../src/notifications/send.ts';
import { createTestContext, eventually, HeldClock, type TestContext } from '../helpers/context.ts';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';

export interface PipelineFixture {
  t: TestContext;
  smtp: TestSmtpServer;
  clock: HeldClock;
  close(): Promise<void>;
}

/** Moves a held clock to an instant. */
export function setClock(clock: HeldClock, iso: string): void {
  clock.advance(new Date(iso).getTime() - clock.now().getTime());
}

export async function openPipeline(options: { env?: Record<string, string>; worker?: boolean; start?: string } = {}): Promise<PipelineFixture> {
  const smtp = await startSmtpServer();
  const clock = new HeldClock(options.start ?? '2026-11-25T15:00:00Z');
  const t = await createTestContext({ clock, env: { SMTP_URL: smtp.url, EMAIL_FROM: 'DominionTrust <alerts@dominiontrust.test>', ...options.env } });
  if (options.worker ?? true) await startWorker(t.ctx);
  return {
    t, smtp, clock,
    async close() {
      await t.close();
      await smtp.close();
    },
  };
}

let customers = 0;

/** A customer with a phone (a fresh one unless given), an email unless null, and a time zone. */
export async function addCustomer(
  t: TestContext, options: { phone?: string | null; email?: string | null; timeZone?: string } = {},
): Promise<{ id: string; phone: string | null; email: string | null }> {
  customers++;
  const phone = options.phone === undefined ? `+1415555${String(1000 + customers).slice(-4)}` : options.phone;
  const email = options.email === undefined ? `customer${customers}.${process.pid}@example.test` : options.email;
  const [row] = await t.ctx.db.insert(users).values({ username: `customer${customers}`, email, passwordHash: 'not-a-real-hash' }).returning({ id: users.id });
  if (!row) throw new Error('no user inserted');
  await t.ctx.db.insert(userProfiles).values({ userId: row.id, phoneNumber: phone, timeZone: options.timeZone ?? 'America/New_York' });
  return { id: row.id, phone, email };
}

/** A non-code notification of `type` with its example values. */
export function notify(t: TestContext, userId: string, type: NotificationTypeSpec['id'], extra: Partial<Notification> = {}): Promise<NotificationQueued> {
  const spec = CATALOGUE.find((s) => s.id === type)!;
  return t.ctx.db.transaction((tx) => notifyUser(t.ctx, tx, { userId, type, values: exampleValues(spec), ...extra }));
}

/** A customer's notifications, oldest first (a held clock gives many the same instant: sort to compare). */
export async function notificationsOf(t: TestContext, userId: string): Promise<NotificationRow[]> {
  return t.ctx.db.select().from(notifications).where(eq(notifications.userId, userId)).orderBy(notifications.createdAt);
}

export async function smsRowsOf(t: TestContext, userId: string) {
  return t.ctx.db.select().from(smsMessages).where(eq(smsMessages.userId, userId));
}

/** SMS the simulator received for a number. */
export function smsAt(t: TestContext, phone: string | null) {
  return t.sim.messages().filter((m) => m.to === phone);
}

/** Waits until no notification of the customer is pending or being sent, and returns them all. */
/**
 * A notification's status, with an SMS one on its way said as one: 'queued' while its message is
 * with Twilio, 'sent' once delivered, which a status check under load can make happen before the
 * test reads it.
 */
export const handedOver = (r: Pick<NotificationRow, 'channel' | 'status'>): string =>
  r.channel === 'sms' && (r.status === 'queued' || r.status === 'sent') ? 'queued or sent' : r.status;

export async function settled(t: TestContext, userId: string, timeoutMs = 15_000): Promise<NotificationRow[]> {
  return eventually(async () => {
    const rows = await notificationsOf(t, userId);
    return rows.every((r) => r.status !== 'pending' && r.status !== 'sending') ? rows : undefined;
  }, timeoutMs, 'notifications decided');
}

/** Waits until the simulator has `count` SMS for the number (and gives a moment for extra ones). */
export async function smsArrived(t: TestContext, phone: string | null, count: number, timeoutMs = 15_000) {
  return eventually(() => (smsAt(t, phone).length >= count ? smsAt(t, phone) : undefined), timeoutMs, `${count} SMS to ${phone}`);
}

export async function mailArrived(smtp: TestSmtpServer, address: string | null, count: number, timeoutMs = 15_000) {
  return eventually(() => (smtp.to(address ?? '').length >= count ? smtp.to(address ?? '') : undefined), timeoutMs, `${count} emails to ${address}`);
}
