// The bank's event table: every event a customer is told about (security, money, cards, KYC) is
// written here in the transaction of the change that caused it, and handed to the notification
// system in that same transaction (notifyUser writes the notification rows and their jobs). The
// notifications are keyed by `event:<id>`, so one event notifies each customer once per type and
// channel however often the job that carries it is replayed.
import { and, desc, eq } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { bankEvents } from '../db/schema.ts';
import { notifyUser, type Notification, type NotificationQueued } from '../notifications/send.ts';

/** What happened, as the event table names it: `<subject>.<what>`, e.g. card.blocked. */
export type BankEventType =
  | 'registration.completed' | 'login.new_device' | 'login.locked' | 'login.suspicious'
  | 'password.changed' | 'phone.changed' | 'two_factor.totp_enrolled' | 'two_factor.backup_codes_created'
  | 'transfer.pending_confirmation' | 'transfer.sent' | 'transfer.received' | 'transaction.posted'
  | 'balance.low' | 'transaction.large' | 'suspicious.activity'
  | 'card.created' | 'card.blocked' | 'card.unblocked' | 'card.expiring' | 'card.expired'
  | 'kyc.submitted' | 'kyc.approved' | 'kyc.rejected' | 'kyc.more_info_needed'
  | 'preferences.changed';

/** JSON-safe description of the event; never a code, a password or a full card number. */
export type EventPayload = Record<string, string | number | boolean | null>;

export interface BankEvent {
  userId: string;
  type: BankEventType;
  payload: EventPayload;
  /** The notifications the event raises; their userId defaults to the event's. */
  notify?: readonly (Omit<Notification, 'userId' | 'eventKey'> & { userId?: string })[];
}

export interface RecordedEvent {
  id: string;
  notifications: NotificationQueued[];
}

type EventContext = Pick<AppContext, 'jobs' | 'config' | 'clock'>;

/**
 * Writes the event and its notifications in `tx`. Throws what notifyUser throws (for a code type:
 * 'no_phone_number', 'sms_rate_limited', ...), which rolls the caller's change back with it.
 */
export async function recordEvent(ctx: EventContext, tx: Queryable, event: BankEvent): Promise<RecordedEvent> {
  const [row] = await tx.insert(bankEvents).values({
    userId: event.userId, type: event.type, payload: event.payload, createdAt: ctx.clock.now(),
  }).returning({ id: bankEvents.id });
  if (!row) throw new Error('bank_events insert returned no row');
  const notifications: NotificationQueued[] = [];
  for (const notification of event.notify ?? []) {
    notifications.push(await notifyUser(ctx, tx, { ...notification, userId: notification.userId ?? event.userId, eventKey: `event:${row.id}` }));
  }
  return { id: row.id, notifications };
}

export interface EventView {
  id: string;
  type: string;
  payload: unknown;
  createdAt: string;
}

/** A customer's latest events, newest first (their own only). */
export async function listEvents(db: Queryable, userId: string, options: { type?: BankEventType; limit?: number } = {}): Promise<EventView[]> {
  const rows = await db.select().from(bankEvents)
    .where(options.type ? and(eq(bankEvents.userId, userId), eq(bankEvents.type, options.type)) : eq(bankEvents.userId, userId))
    .orderBy(desc(bankEvents.createdAt)).limit(Math.min(options.limit ?? 50, 500));
  return rows.map((r) => ({ id: r.id, type: r.type, payload: r.payload, createdAt: r.createdAt.toISOString() }));
}
