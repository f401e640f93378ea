// A customer's own notification history: what the bank told them, on which channel, what became of
// it, and for SMS the text as the message log keeps it (codes already ******) and its delivery.
// The phone number is shown by its last 4 digits only. Newest first, paged by a createdAt cursor.
import { and, desc, eq, lt, or, type SQL } from 'drizzle-orm';
import type { Queryable } from '../db/connection.ts';
import { isUuid } from '../db/ids.ts';
import { notifications, smsMessages } from '../db/schema.ts';
import { AppError } from '../errors.ts';

/** At most this many per page; the default page is 50. */
export const MAX_HISTORY_PAGE = 200;
const DEFAULT_HISTORY_PAGE = 50;

export interface SentSmsView {
  status: string;
  /** The number it went to, as its last 4 digits. */
  toLast4: string;
  /** The text as sent, with any one-time code replaced by ******. */
  body: string;
  sentAt: string | null;
  deliveredAt: string | null;
}

export interface NotificationView {
  id: string;
  type: string;
  channel: string;
  /** pending, held, sending, queued, sent, digested, skipped or failed. */
  status: string;
  /** Why it was held, skipped, moved or failed, when it was. */
  reason: string | null;
  createdAt: string;
  /** The SMS the notification became, if it became one. */
  sms: SentSmsView | null;
}

/**
 * Where a page starts: older than `createdAt`, or, with `id`, older than that notification in the
 * list's order (notifications of one event share their instant, so the id breaks the tie).
 */
export interface HistoryCursor {
  createdAt: Date;
  id?: string;
}

export interface HistoryPage {
  messages: NotificationView[];
  /** The `before` of the next page; null on the last one. */
  nextBefore: string | null;
}

/** A cursor as it travels in a URL: the ISO instant, then `~` and the notification id. */
export function formatCursor(view: Pick<NotificationView, 'createdAt' | 'id'>): string {
  return `${view.createdAt}~${view.id}`;
}

/** Reads a `before`: an ISO instant, or a `nextBefore` of an earlier page; undefined when malformed. */
export function parseCursor(text: string): HistoryCursor | undefined {
  const [instant, id, extra] = text.split('~');
  if (extra !== undefined || !instant || !/^\d{4}-\d{2}-\d{2}T/.test(instant)) return undefined;
  const createdAt = new Date(instant);
  if (Number.isNaN(createdAt.getTime())) return undefined;
  if (id === undefined) return { createdAt };
  return isUuid(id) ? { createdAt, id: id.toLowerCase() } : undefined;
}

const columns = {
  id: notifications.id, type: notifications.type, channel: notifications.channel, status: notifications.status,
  reason: notifications.reason, createdAt: notifications.createdAt,
  smsId: smsMessages.id, smsStatus: smsMessages.status, toNumber: smsMessages.toNumber, body: smsMessages.bodyRedacted,
  sentAt: smsMessages.sentAt, deliveredAt: smsMessages.deliveredAt,
};

type HistoryRow = Awaited<ReturnType<typeof historyQuery>>[number];

function viewOf(r: HistoryRow): NotificationView {
  return {
    id: r.id, type: r.type, channel: r.channel, status: r.status, reason: r.reason, createdAt: r.createdAt.toISOString(),
    sms: r.smsId === null ? null : {
      status: r.smsStatus ?? 'pending', toLast4: (r.toNumber ?? '').slice(-4), body: r.body ?? '',
      sentAt: r.sentAt?.toISOString() ?? null, deliveredAt: r.deliveredAt?.toISOString() ?? null,
    },
  };
}

// The join keeps to the customer's own SMS as well: a notification only ever points at its own
// customer's message, and the second condition makes that a property of the query, not of the data.
function historyQuery(db: Queryable, where: SQL | undefined) {
  return db.select(columns).from(notifications)
    .leftJoin(smsMessages, and(eq(smsMessages.id, notifications.smsMessageId), eq(smsMessages.userId, notifications.userId)))
    .where(where);
}

/** One page of the customer's notifications, newest first. */
export async function listNotificationHistory(
  db: Queryable, userId: string, options: { limit?: number; before?: HistoryCursor } = {},
): Promise<HistoryPage> {
  const limit = Math.min(options.limit ?? DEFAULT_HISTORY_PAGE, MAX_HISTORY_PAGE);
  const before = options.before;
  const older = before === undefined ? undefined
    : before.id === undefined ? lt(notifications.createdAt, before.createdAt)
    : or(lt(notifications.createdAt, before.createdAt), and(eq(notifications.createdAt, before.createdAt), lt(notifications.id, before.id)));
  // One more than asked tells whether there is a next page without a count.
  const rows = await historyQuery(db, and(eq(notifications.userId, userId), older))
    .orderBy(desc(notifications.createdAt), desc(notifications.id)).limit(limit + 1);
  const messages = rows.slice(0, limit).map(viewOf);
  const last = messages.at(-1);
  return { messages, nextBefore: rows.length > limit && last ? formatCursor(last) : null };
}

/** One of the customer's notifications; another customer's answers exactly like a missing one. */
export async function getNotification(db: Queryable, userId: string, id: string): Promise<NotificationView> {
  const missing = new AppError('not_found', 'No such message of yours: GET /api/messages lists the messages the bank sent you.');
  if (!isUuid(id)) throw missing;
  const [row] = await historyQuery(db, and(eq(notifications.id, id), eq(notifications.userId, userId)));
  if (!row) throw missing;
  return viewOf(row);
}
