// One-time codes by voice call: the fallback when SMS cannot reach the number (opted out,
// unreachable, refused by Twilio) and the customer's "call me instead". Same path as a code SMS:
// the call is queued in the caller's transaction with its limits (per number, IP, prefix, and the
// day's spend at VOICE_PRICE_PER_MINUTE), a worker mints the code at call time into the challenge
// the SMS would have used (same hashing, expiry and attempts), and Twilio's Calls API places it
// with TwiML that reads the digits slowly, twice, in the customer's language. Call progress comes
// back as signed status callbacks (src/http/twilio-webhooks.ts).
import { and, eq, inArray, sql } from 'drizzle-orm';
import twilio from 'twilio';
import type { Config } from '../config.ts';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { voiceCalls } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { codeLimits, consumeLimits, LimitReached } from '../notifications/limits.ts';
import { customerLanguage } from '../notifications/compose.ts';
import { codeLimitError } from '../notifications/send.ts';
import { mintOtpCode, OTP_POLICY } from '../otp/challenges.ts';
import { maskPhoneNumber } from '../sms/phone.ts';
import { SmsProviderError, type CallStatus } from '../sms/provider.ts';
import { dataKeyFor } from '../auth/data-key.ts';

/** Where call status callbacks arrive, under PUBLIC_BASE_URL. */
export const CALL_STATUS_PATH = '/webhooks/twilio/call-status';
/** A code call is billed as one started minute (it lasts about 20 seconds). */
const ESTIMATED_MINUTES = 1;
const MAX_CALL_ATTEMPTS = 3;
const RING_SECONDS = 30;

export function callStatusUrl(config: Pick<Config, 'publicBaseUrl'>): string | undefined {
  return config.publicBaseUrl === undefined ? undefined : `${config.publicBaseUrl}${CALL_STATUS_PATH}`;
}

interface CallWords {
  /** Twilio <Say> language. */
  voice: string;
  intro: string;
  again: string;
  outro: string;
}

/** What the call says, per template language; every language the bank writes in has one. */
export const CALL_WORDS: Readonly<Record<string, CallWords>> = {
  en: {
    voice: 'en-US',
    intro: 'Hello, this is DominionTrust Bank. Your code is',
    again: 'Again, your code is',
    outro: `It expires in ${OTP_POLICY.ttlMs / 60_000} minutes. We will never ask you for this code. Goodbye.`,
  },
  es: {
    voice: 'es-US',
    intro: 'Hola, le llama DominionTrust Bank. Su código es',
    again: 'Repito, su código es',
    outro: `Vence en ${OTP_POLICY.ttlMs / 60_000} minutos. Nunca le pediremos este código. Adiós.`,
  },
};

/** "1, 2, 3, 4, 5, 6." : one digit at a time, each followed by a pause. */
function spokenDigits(code: string): string {
  return `${code.split('').join(', ')}.`;
}

/** The TwiML of a code call: the digits slowly, twice, in the customer's language. */
export function codeCallTwiml(code: string, language: string, about: string | null = null): string {
  const words = CALL_WORDS[language] ?? CALL_WORDS.en!;
  const response = new twilio.twiml.VoiceResponse();
  const say = (text: string) => response.say({ language: words.voice as 'en-US' }, text);
  say(words.intro);
  response.pause({ length: 1 });
  say(spokenDigits(code));
  response.pause({ length: 1 });
  if (about) say(about);
  response.pause({ length: 1 });
  say(words.again);
  response.pause({ length: 1 });
  say(spokenDigits(code));
  response.pause({ length: 1 });
  say(words.outro);
  return response.toString();
}

/** What the call log keeps of the words: the code as asterisks. */
function spokenRedacted(language: string, about: string | null): string {
  const words = CALL_WORDS[language] ?? CALL_WORDS.en!;
  const masked = spokenDigits('*'.repeat(OTP_POLICY.digits));
  return [words.intro, masked, about, words.again, masked, words.outro].filter(Boolean).join(' ');
}

/** The sentence that names what a transfer code confirms. */
function aboutText(language: string, about: { amount: string; payee: string } | undefined): string | null {
  if (!about) return null;
  return language === 'es' ? `Este código confirma su transferencia de ${about.amount} a ${about.payee}.` : `This code confirms your transfer of ${about.amount} to ${about.payee}.`;
}

export interface QueuedCall {
  callId: string;
  /** Last 4 digits of the number called. */
  destination: string;
  estimatedPrice: number;
}

/**
 * Queues a code call in the caller's transaction, counted against the code limits and the day's
 * spend. Throws CodeLimitError (AppError 'sms_rate_limited') when a code limit refuses it, and
 * AppError 'config_invalid' when no sender number can place calls.
 */
export async function queueCodeCall(
  ctx: Pick<AppContext, 'jobs' | 'config' | 'clock'>, tx: Queryable,
  input: {
    userId: string; type: string; to: string; otpChallengeId: string; sendBefore: Date; ip: string | undefined;
    /** A transfer's amount and payee, spoken with the code (dynamic linking, as its SMS shows them). */
    about?: { amount: string; payee: string };
  },
): Promise<QueuedCall> {
  if (!ctx.config.twilio.phoneNumber) {
    throw new AppError('config_invalid', 'No number can place the call: set TWILIO_PHONE_NUMBER to a voice-capable number (a Messaging Service cannot call).');
  }
  const now = ctx.clock.now();
  const language = await customerLanguage(tx, input.userId);
  const estimatedPrice = ctx.config.voice.pricePerMinute * ESTIMATED_MINUTES;
  const [row] = await tx.insert(voiceCalls).values({
    type: input.type, userId: input.userId, toNumber: input.to, language: CALL_WORDS[language] ? language : 'en',
    spokenRedacted: spokenRedacted(language, aboutText(language, input.about)), about: aboutText(language, input.about), otpChallengeId: input.otpChallengeId, sendBefore: input.sendBefore,
    priceEstimate: estimatedPrice.toFixed(5), createdAt: now, updatedAt: now,
  }).returning({ id: voiceCalls.id });
  if (!row) throw new Error('voice_calls insert returned no row');
  await ctx.jobs.send(tx, 'voice.code', { callId: row.id });
  try {
    await consumeLimits(tx, codeLimits(ctx.config.limits, { to: input.to, ip: input.ip, estimatedPriceUsd: estimatedPrice }), now);
  } catch (error) {
    if (!(error instanceof LimitReached)) throw error;
    throw codeLimitError(error, maskPhoneNumber(input.to), input.to);
  }
  return { callId: row.id, destination: maskPhoneNumber(input.to), estimatedPrice };
}

type CallRow = typeof voiceCalls.$inferSelect;

/** Runs a voice.code job: mints the code and places the call. Safe to run twice. */
export async function placeCodeCall(ctx: AppContext, callId: string): Promise<void> {
  const now = ctx.clock.now();
  const [row] = await ctx.db.update(voiceCalls)
    .set({ status: 'placing', attempts: sql`${voiceCalls.attempts} + 1`, updatedAt: now })
    .where(and(eq(voiceCalls.id, callId), eq(voiceCalls.status, 'pending')))
    .returning();
  if (!row) return; // placed already, or being placed by another worker
  const log = ctx.logger.child({ callId, type: row.type });
  if (row.sendBefore && now >= row.sendBefore) {
    await settleCall(ctx.db, row.id, { status: 'expired', errorMessage: 'Not placed: the code expired first.', updatedAt: now });
    ctx.metrics.voiceCalls.inc({ type: row.type, status: 'expired' });
    log.warn('code call expired before it could be placed');
    return;
  }
  if (!row.otpChallengeId) throw new Error('a code call has a challenge');
  const code = await mintOtpCode(ctx.db, dataKeyFor(ctx.config), row.otpChallengeId);
  const from = ctx.config.twilio.phoneNumber!;
  try {
    const placed = await ctx.provider.placeCall({
      to: row.toNumber, from, twiml: codeCallTwiml(code, row.language, row.about), statusCallback: callStatusUrl(ctx.config), ringSeconds: RING_SECONDS,
    });
    await settleCall(ctx.db, row.id, { twilioSid: placed.sid, status: placed.status, fromNumber: placed.from ?? from, placedAt: now, updatedAt: ctx.clock.now() });
    ctx.metrics.voiceCalls.inc({ type: row.type, status: placed.status });
    ctx.metrics.voiceEstimatedCost.inc({ type: row.type }, Number(row.priceEstimate));
    log.info({ sid: placed.sid, status: placed.status }, 'code call placed');
  } catch (error) {
    await recordCallFailure(ctx, row, error);
  }
}

async function recordCallFailure(ctx: AppContext, row: CallRow, error: unknown): Promise<void> {
  const now = ctx.clock.now();
  if (!(error instanceof SmsProviderError)) {
    await settleCall(ctx.db, row.id, { status: 'pending', updatedAt: now });
    throw error;
  }
  const retryAt = new Date(now.getTime() + 1000 * 2 ** row.attempts);
  if (error.retryable && row.attempts < MAX_CALL_ATTEMPTS && (!row.sendBefore || retryAt < row.sendBefore)) {
    await ctx.db.transaction(async (tx) => {
      await settleCall(tx, row.id, { status: 'pending', errorCode: error.twilioCode, errorMessage: error.userMessage, updatedAt: now });
      await ctx.jobs.send(tx, 'voice.code', { callId: row.id }, { startAfter: retryAt });
    });
    return;
  }
  await settleCall(ctx.db, row.id, { status: 'failed', errorCode: error.twilioCode, errorMessage: error.userMessage, updatedAt: now });
  ctx.metrics.voiceCalls.inc({ type: row.type, status: 'failed' });
  ctx.logger.error({ callId: row.id, kind: error.kind, twilioCode: error.twilioCode }, 'code call failed');
}

function settleCall(db: Queryable, id: string, values: Partial<typeof voiceCalls.$inferInsert>) {
  return db.update(voiceCalls).set(values).where(eq(voiceCalls.id, id));
}

const CALL_RANK: Record<string, number> = {
  pending: 0, placing: 1, queued: 2, initiated: 2, ringing: 3, 'in-progress': 4,
  completed: 5, busy: 5, failed: 5, 'no-answer': 5, canceled: 5,
};
export const FINAL_CALL_STATUSES: readonly string[] = ['completed', 'busy', 'failed', 'no-answer', 'canceled', 'expired'];

export interface CallProgress {
  status: CallStatus | 'initiated';
  durationSeconds: number | null;
  errorCode: number | null;
}

/**
 * Applies a call status callback, never moving a call backwards (callbacks may arrive out of
 * order). 'unknown' when no call has that SID; otherwise whether the call moved.
 */
export async function recordCallProgress(ctx: Pick<AppContext, 'db' | 'clock' | 'metrics'>, callSid: string, progress: CallProgress): Promise<'unknown' | { callId: string; changed: boolean }> {
  const [row] = await ctx.db.select({ id: voiceCalls.id, type: voiceCalls.type }).from(voiceCalls).where(eq(voiceCalls.twilioSid, callSid));
  if (!row) return 'unknown';
  const below = Object.entries(CALL_RANK).filter(([, r]) => r < (CALL_RANK[progress.status] ?? 0)).map(([s]) => s);
  if (!below.length) return { callId: row.id, changed: false };
  const final = FINAL_CALL_STATUSES.includes(progress.status);
  const changed = await ctx.db.update(voiceCalls).set({
    status: progress.status === 'initiated' ? 'queued' : progress.status,
    ...(progress.durationSeconds !== null && { durationSeconds: progress.durationSeconds }),
    ...(progress.errorCode !== null && { errorCode: progress.errorCode }),
    updatedAt: ctx.clock.now(),
  }).where(and(eq(voiceCalls.id, row.id), inArray(voiceCalls.status, below))).returning({ id: voiceCalls.id });
  if (changed.length && final && progress.status !== 'completed') ctx.metrics.voiceCalls.inc({ type: row.type, status: progress.status });
  return { callId: row.id, changed: changed.length > 0 };
}

/** The latest call of a challenge, if any. */
export async function callOfChallenge(db: Queryable, challengeId: string): Promise<CallRow | undefined> {
  const rows = await db.select().from(voiceCalls).where(eq(voiceCalls.otpChallengeId, challengeId));
  return rows.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
}
