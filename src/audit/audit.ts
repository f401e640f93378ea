// The audit log: every change staff make (and every phone-number change, whoever makes it) is
// written here in the transaction of the change itself, so a change that rolls back leaves no
// entry and an entry never describes a change that did not happen. The table is append-only in
// the database (triggers refuse UPDATE, DELETE and TRUNCATE); this module only inserts and reads.
import { and, desc, eq, gte, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Queryable } from '../db/connection.ts';
import { auditLog, users } from '../db/schema.ts';

export type AuditAction =
  | 'phone.changed' | 'template.saved' | 'kyc.reviewed' | 'deposit.made' | 'unreachable.cleared' | 'test_sms.sent';
export const AUDIT_ACTIONS: readonly AuditAction[] = ['phone.changed', 'template.saved', 'kyc.reviewed', 'deposit.made', 'unreachable.cleared', 'test_sms.sent'];

/** Who made a change: a member of staff or a customer by id, or an operator at the CLI. */
export type Actor = { kind: 'staff' | 'customer'; userId: string } | { kind: 'cli'; name?: string };

/** JSON-safe facts; never a secret, a code or a full phone number (last 4 only). */
export type AuditFacts = Record<string, string | number | boolean | null>;

export interface AuditEntry {
  actor: Actor;
  action: AuditAction;
  subject: string;
  subjectUserId?: string | null;
  before?: AuditFacts | null;
  after?: AuditFacts | null;
  at: Date;
}

/** Appends one entry in the caller's transaction. */
export async function recordAudit(tx: Queryable, entry: AuditEntry): Promise<void> {
  const { actor } = entry;
  let actorName = actor.kind === 'cli' ? `cli:${actor.name ?? process.env.USER ?? 'operator'}` : '';
  if (actor.kind !== 'cli') {
    const [row] = await tx.select({ username: users.username }).from(users).where(eq(users.id, actor.userId));
    actorName = row?.username ?? actor.userId;
  }
  await tx.insert(auditLog).values({
    at: entry.at, actorKind: actor.kind, actorId: actor.kind === 'cli' ? null : actor.userId, actorName,
    action: entry.action, subject: entry.subject, subjectUserId: entry.subjectUserId ?? null,
    before: entry.before ?? null, after: entry.after ?? null,
  });
}

export interface AuditView {
  id: string;
  at: string;
  actorKind: string;
  actor: string;
  action: string;
  subject: string;
  subjectUserId: string | null;
  before: unknown;
  after: unknown;
}

export interface AuditFilter {
  /** Username of the actor or of the customer changed. */
  user?: string;
  action?: string;
  from?: Date;
  to?: Date;
  /** Keyset: entries strictly older than this one. */
  before?: { at: Date; id: string };
  limit: number;
}

/** Entries newest first, one keyset page (limit + whether there are more). */
export async function listAudit(db: Queryable, filter: AuditFilter): Promise<{ entries: AuditView[]; more: boolean }> {
  const where: SQL[] = [];
  if (filter.action) where.push(eq(auditLog.action, filter.action));
  if (filter.from) where.push(gte(auditLog.at, filter.from));
  if (filter.to) where.push(lt(auditLog.at, filter.to));
  if (filter.user) {
    const subject = sql`${auditLog.subjectUserId} in (select id from users where username = ${filter.user})`;
    where.push(or(eq(auditLog.actorName, filter.user), subject)!);
  }
  if (filter.before) where.push(sql`(${auditLog.at}, ${auditLog.id}) < (${filter.before.at.toISOString()}::timestamptz, ${filter.before.id}::uuid)`);
  const rows = await db.select().from(auditLog).where(where.length ? and(...where) : undefined)
    .orderBy(desc(auditLog.at), desc(auditLog.id)).limit(filter.limit + 1);
  return {
    more: rows.length > filter.limit,
    entries: rows.slice(0, filter.limit).map((r) => ({
      id: r.id, at: r.at.toISOString(), actorKind: r.actorKind, actor: r.actorName, action: r.action,
      subject: r.subject, subjectUserId: r.subjectUserId, before: r.before, after: r.after,
    })),
  };
}
