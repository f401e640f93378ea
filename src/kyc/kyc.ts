// Know Your Customer: a customer submits who they are, staff review it (approved, rejected, or
// more information needed). Each status change is a bank event with a `kyc_status` notice in the
// same transaction; the SMS only says there is an update, so nothing about the check shows on a
// lock screen. Only the last 4 characters of the identity document's number are ever stored.
import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { isUuid } from '../db/ids.ts';
import { kycSubmissions, users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { recordEvent } from '../events/events.ts';
import { recordAudit } from '../audit/audit.ts';

export const DOCUMENT_TYPES = ['passport', 'national_id', 'driving_licence'] as const;
export type DocumentType = (typeof DOCUMENT_TYPES)[number];

export const KYC_STATUSES = ['submitted', 'approved', 'rejected', 'more_info_needed'] as const;
export type KycStatus = (typeof KYC_STATUSES)[number];

export const KYC_DECISIONS = ['approved', 'rejected', 'more_info_needed'] as const;
export type KycDecision = (typeof KYC_DECISIONS)[number];

type KycRow = typeof kycSubmissions.$inferSelect;
type KycContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>;

export interface KycInput {
  fullName: string;
  /** YYYY-MM-DD. */
  dateOfBirth: string;
  documentType: DocumentType;
  /** As typed; only its last 4 characters are kept. */
  documentNumber: string;
  address: string;
}

/** What the customer sees of their submission. */
export interface KycView {
  id: string;
  status: KycStatus;
  fullName: string;
  dateOfBirth: string;
  documentType: DocumentType;
  documentLast4: string;
  address: string;
  /** Staff's note to the customer: what is missing, or why it was rejected. */
  reviewNote: string | null;
  reviewedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What staff see in the review queue: the customer too. */
export interface StaffKycView extends KycView {
  userId: string;
  username: string;
  reviewedBy: string | null;
}

function kycView(row: KycRow): KycView {
  return {
    id: row.id, status: row.status as KycStatus, fullName: row.fullName, dateOfBirth: row.dateOfBirth,
    documentType: row.documentType as DocumentType, documentLast4: row.documentLast4, address: row.address,
    reviewNote: row.reviewNote, reviewedAt: row.reviewedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString(),
  };
}

function kycNotFound(): AppError {
  return new AppError('not_found', 'No such identity check among yours. GET /api/kyc shows your latest one.');
}

/** Letters and digits of a document number, in capitals: spaces and dashes are how it was typed. */
export function documentLast4(documentNumber: string): string {
  const cleaned = documentNumber.replace(/[\s-]/g, '').toUpperCase();
  if (!/^[A-Z0-9]{5,20}$/.test(cleaned)) {
    throw new AppError('validation_failed', 'documentNumber: 5 to 20 letters and digits as printed on the document (spaces and dashes are ignored).');
  }
  return cleaned.slice(-4);
}

/** A real calendar date in the past, not before 1900. */
export function checkDateOfBirth(dateOfBirth: string, now: Date): string {
  const parsed = /^\d{4}-\d{2}-\d{2}$/.test(dateOfBirth) ? new Date(`${dateOfBirth}T00:00:00Z`) : undefined;
  if (!parsed || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== dateOfBirth) {
    throw new AppError('validation_failed', `dateOfBirth: "${dateOfBirth}" is not a date; write it as YYYY-MM-DD, e.g. 1990-04-23.`);
  }
  if (dateOfBirth < '1900-01-01' || dateOfBirth >= now.toISOString().slice(0, 10)) {
    throw new AppError('validation_failed', `dateOfBirth: ${dateOfBirth} cannot be a date of birth; check the year (YYYY-MM-DD).`);
  }
  return dateOfBirth;
}

/**
 * Why the customer may not submit now, or undefined when they may: they have no check yet, or
 * staff asked them for more information. One submission is open at a time; approved and rejected
 * are final.
 */
async function submissionRefusal(tx: Queryable, userId: string): Promise<AppError | undefined> {
  const rows = await tx.select({ status: kycSubmissions.status }).from(kycSubmissions)
    .where(and(eq(kycSubmissions.userId, userId), inArray(kycSubmissions.status, ['submitted', 'approved', 'rejected'])));
  const statuses = new Set(rows.map((r) => r.status));
  if (statuses.has('submitted')) return new AppError('conflict', 'Your identity check is already being reviewed; you can submit again only if staff ask for more information. GET /api/kyc shows its status.');
  if (statuses.has('approved')) return new AppError('conflict', 'Your identity is already verified; there is nothing to submit.');
  if (statuses.has('rejected')) return new AppError('conflict', 'Your identity check was rejected (GET /api/kyc shows why). Please call the bank to go on.');
  return undefined;
}

/**
 * Submits the customer's identity check, with its kyc.submitted event and `kyc_status` notice.
 * Throws AppError 'validation_failed' (bad date of birth or document number) or 'conflict' (a
 * check already open, approved or rejected).
 */
export async function submitKyc(ctx: KycContext, userId: string, input: KycInput): Promise<KycView> {
  const now = ctx.clock.now();
  const dateOfBirth = checkDateOfBirth(input.dateOfBirth, now);
  const last4 = documentLast4(input.documentNumber);
  return ctx.db.transaction(async (tx) => {
    // The customer's row lock makes "one open submission" hold against two requests at once.
    await tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).for('update');
    const refusal = await submissionRefusal(tx, userId);
    if (refusal) throw refusal;
    const [row] = await tx.insert(kycSubmissions).values({
      userId, status: 'submitted', fullName: input.fullName, dateOfBirth, documentType: input.documentType,
      documentLast4: last4, address: input.address, createdAt: now, updatedAt: now,
    }).returning();
    if (!row) throw new Error('kyc_submissions insert returned no row');
    await recordEvent(ctx, tx, {
      userId, type: 'kyc.submitted', payload: { submissionId: row.id, documentType: row.documentType },
      notify: [{ type: 'kyc_status', values: {} }],
    });
    return kycView(row);
  });
}

/**
 * The customer's latest submission, or null. Equal creation times (a held clock) are broken by
 * status: a submission only ever follows one that needed more information.
 */
export async function latestKyc(db: Queryable, userId: string): Promise<KycView | null> {
  const [row] = await db.select().from(kycSubmissions).where(eq(kycSubmissions.userId, userId))
    .orderBy(desc(kycSubmissions.createdAt), sql`${kycSubmissions.status} = 'more_info_needed'`).limit(1);
  return row ? kycView(row) : null;
}

/** One of the customer's own submissions; another customer's answers like a missing one. */
export async function ownKyc(db: Queryable, userId: string, id: string): Promise<KycView> {
  if (!isUuid(id)) throw kycNotFound();
  const [row] = await db.select().from(kycSubmissions).where(and(eq(kycSubmissions.id, id), eq(kycSubmissions.userId, userId)));
  if (!row) throw kycNotFound();
  return kycView(row);
}

/** The review queue: submissions in `status`, oldest first. */
export async function listKycForStaff(db: Queryable, status: KycStatus, limit: number): Promise<StaffKycView[]> {
  const rows = await db.select({ submission: kycSubmissions, username: users.username }).from(kycSubmissions)
    .innerJoin(users, eq(users.id, kycSubmissions.userId))
    .where(eq(kycSubmissions.status, status)).orderBy(asc(kycSubmissions.createdAt), asc(kycSubmissions.id)).limit(limit);
  return rows.map(({ submission, username }) => ({ ...kycView(submission), userId: submission.userId, username, reviewedBy: submission.reviewedBy }));
}

export interface KycReview {
  decision: KycDecision;
  /** Required unless approved: the customer needs to know what is missing or why. */
  note?: string | undefined;
}

/**
 * Staff decide a submitted check, with its kyc.<decision> event and the customer's `kyc_status`
 * notice. Throws AppError 'not_found', 'forbidden' (staff reviewing their own check), 'conflict'
 * (not in 'submitted': already reviewed, or superseded) or 'validation_failed' (note missing).
 */
export async function reviewKyc(ctx: KycContext, staffId: string, submissionId: string, review: KycReview): Promise<StaffKycView> {
  const note = review.note?.trim() || null;
  if (!note && review.decision !== 'approved') {
    throw new AppError('validation_failed', `note: say what the customer must do or why, for a "${review.decision}" decision.`);
  }
  if (!isUuid(submissionId)) throw new AppError('not_found', 'No identity check with this id. GET /api/staff/kyc lists those waiting for review.');
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    const [found] = await tx.select().from(kycSubmissions).where(eq(kycSubmissions.id, submissionId));
    if (!found) throw new AppError('not_found', 'No identity check with this id. GET /api/staff/kyc lists those waiting for review.');
    // Four eyes: nobody verifies their own identity.
    if (found.userId === staffId) throw new AppError('forbidden', 'You cannot review your own identity check: another member of staff must.');
    // Conditional on 'submitted', so of two reviewers at once only the first decides.
    const [row] = await tx.update(kycSubmissions).set({ status: review.decision, reviewNote: note, reviewedBy: staffId, reviewedAt: now, updatedAt: now })
      .where(and(eq(kycSubmissions.id, submissionId), eq(kycSubmissions.status, 'submitted'))).returning();
    if (!row) throw new AppError('conflict', `This identity check is ${found.status.replaceAll('_', ' ')}, not waiting for review; only submitted checks can be decided.`);
    await recordEvent(ctx, tx, {
      userId: row.userId, type: `kyc.${review.decision}`, payload: { submissionId: row.id, decision: review.decision, reviewedBy: staffId },
      notify: [{ type: 'kyc_status', values: {} }],
    });
    const [owner] = await tx.select({ username: users.username }).from(users).where(eq(users.id, row.userId));
    await recordAudit(tx, {
      actor: { kind: 'staff', userId: staffId }, action: 'kyc.reviewed', subject: `kyc:${row.id}`, subjectUserId: row.userId, at: now,
      before: { status: found.status }, after: { status: row.status, note },
    });
    return { ...kycView(row), userId: row.userId, username: owner?.username ?? '', reviewedBy: row.reviewedBy };
  });
}
