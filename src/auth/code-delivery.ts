// What became of a one-time code, told truthfully: sent by SMS (and whether Twilio took it), being
// read by a voice call, or not sent because the number is opted out, unreachable, or refused by
// Twilio, with what the customer can do instead: a call, their authenticator, a backup code, or
// texting START. Sign-in and transfer confirmation answer with it, and the client can ask again
// while a code SMS is still on its way (a refusal such as 21610 arrives after the first answer).
import { setTimeout as sleep } from 'node:timers/promises';
import { and, count, desc, eq, isNotNull, isNull } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { backupCodes, smsMessages, totpCredentials } from '../db/schema.ts';
import { resumeHint } from '../notifications/choices.ts';
import { maskPhoneNumber } from '../sms/phone.ts';
import { findPhoneStatus, phoneProblemOf, problemOf } from '../sms/phone-status.ts';
import { explainTwilioError } from '../sms/twilio-errors.ts';
import { callOfChallenge } from '../voice/code-call.ts';

export type CodeChannel = 'sms' | 'voice' | 'none';
export type CodeProblem = 'phone_opted_out' | 'phone_unreachable' | 'sms_refused' | 'call_failed';
export type CodeChoice = 'voice' | 'totp' | 'backup_code' | 'text_start';

export interface CodeDelivery {
  channel: CodeChannel;
  /** sms: queued | sent | delivered | refused; voice: calling | answered | completed | unanswered | failed; none: not_sent. */
  status: string;
  /** Why the code will not reach the customer this way; null while it may. */
  problem: CodeProblem | null;
  twilioCode: number | null;
  /** For the customer: what happened and what to do. */
  message: string;
  /** What they can do instead. */
  choices: CodeChoice[];
}

/** Why the bank will not text a code to this number at all (opted out, unreachable), if so. */
export async function phoneCodeProblem(db: Queryable, phone: string): Promise<CodeProblem | undefined> {
  const problem = problemOf(await findPhoneStatus(db, phone));
  return problem && `phone_${problem}`;
}

const STILL_SENDING: ReadonlySet<string> = new Set(['pending', 'sending', 'retrying']);
const SMS_REFUSED: ReadonlySet<string> = new Set(['failed', 'undelivered', 'expired', 'canceled']);

/**
 * Waits up to `waitMs` for the code SMS of a challenge to leave the worker (accepted or refused
 * by Twilio), so the first answer can already say when it was refused. Real time, not the
 * context clock: it waits on a worker, however a test holds the clock.
 */
export async function awaitCodeSms(db: Queryable, challengeId: string, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const [row] = await db.select({ status: smsMessages.status }).from(smsMessages).where(eq(smsMessages.otpChallengeId, challengeId)).orderBy(desc(smsMessages.createdAt)).limit(1);
    if (!row || !STILL_SENDING.has(row.status)) return;
    await sleep(25);
  }
}

interface DeliveryInput {
  challengeId: string;
  userId: string;
  /** E.164 the code goes to. */
  destination: string;
  /** Why no SMS was sent, when the bank chose not to send one. */
  withheld?: CodeProblem;
  /** How this flow asks for a call, e.g. POST /api/login/call. */
  callRoute: string;
}

async function secondFactorsOf(db: Queryable, userId: string): Promise<{ totp: boolean; backupCodes: boolean }> {
  const [totp] = await db.select({ userId: totpCredentials.userId }).from(totpCredentials).where(and(eq(totpCredentials.userId, userId), isNotNull(totpCredentials.confirmedAt)));
  const [unused] = await db.select({ n: count() }).from(backupCodes).where(and(eq(backupCodes.userId, userId), isNull(backupCodes.usedAt)));
  return { totp: Boolean(totp), backupCodes: (unused?.n ?? 0) > 0 };
}

/** The state of a challenge's code, and the customer's choices when it will not arrive. */
export async function describeCodeDelivery(ctx: Pick<AppContext, 'config'>, db: Queryable, input: DeliveryInput): Promise<CodeDelivery> {
  const dest = maskPhoneNumber(input.destination);
  const call = await callOfChallenge(db, input.challengeId);
  const [sms] = call ? [] : await db.select().from(smsMessages).where(eq(smsMessages.otpChallengeId, input.challengeId)).orderBy(desc(smsMessages.createdAt)).limit(1);
  let channel: CodeChannel = 'none';
  let status = 'not_sent';
  let problem: CodeProblem | null = input.withheld ?? null;
  let twilioCode: number | null = null;
  let said: string;
  if (call) {
    channel = 'voice';
    twilioCode = call.errorCode;
    status = { pending: 'calling', placing: 'calling', queued: 'calling', ringing: 'calling', 'in-progress': 'answered', completed: 'completed', busy: 'unanswered', 'no-answer': 'unanswered' }[call.status] ?? 'failed';
    if (status === 'unanswered' || status === 'failed') problem = 'call_failed';
    said = problem ? `The call to ${dest} did not reach you (${call.status}${twilioCode ? ` ${twilioCode}` : ''}).` : `We are calling ${dest} to read your code twice.`;
  } else if (sms) {
    channel = 'sms';
    twilioCode = sms.errorCode;
    if (STILL_SENDING.has(sms.status)) status = 'queued';
    else if (SMS_REFUSED.has(sms.status)) status = 'refused';
    else status = sms.status === 'delivered' ? 'delivered' : 'sent';
    if (status === 'refused') {
      const mark = phoneProblemOf(twilioCode);
      problem = mark ? `phone_${mark}` : 'sms_refused';
    }
    const why = twilioCode ? `${twilioCode} ${explainTwilioError(twilioCode)?.title ?? ''}`.trim() : sms.status;
    said = status === 'refused' ? `Your code SMS to ${dest} was refused (${why}): it will not arrive.` : `Code sent by SMS to ${dest}.`;
  } else {
    said = problem === 'phone_opted_out'
      ? `We did not text your code: ${dest} has opted out of our texts.`
      : problem === 'phone_unreachable' ? `We did not text your code: ${dest} cannot receive texts.` : 'No SMS was sent: answer with your authenticator app or a backup code.';
  }
  const choices: CodeChoice[] = ['voice'];
  const hints = [`ask for the code by voice call (${input.callRoute})`];
  if (problem) {
    const factors = await secondFactorsOf(db, input.userId);
    if (factors.totp) {
      choices.push('totp');
      hints.push('use your authenticator app (method "totp")');
    }
    if (factors.backupCodes) {
      choices.push('backup_code');
      hints.push('use a backup code (method "backup_code")');
    }
    if (problem === 'phone_opted_out') {
      const resume = await resumeHint(db, ctx, input.destination, await findPhoneStatus(db, input.destination));
      if (resume) {
        choices.push('text_start');
        hints.push(`${resume.replace(/\.$/, '')} to get codes by SMS again`.replace(/^Text/, 'text'));
      }
    }
  }
  const message = problem ? `${said} You can ${hints.join(', or ')}.` : said;
  return { channel, status, problem, twilioCode, message, choices };
}
