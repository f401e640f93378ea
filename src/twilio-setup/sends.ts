// The sending half of `test_twilio_sms`: a test SMS, a login code and a security notification,
// each through the path real traffic takes (message log + job + worker), then followed in the
// message log until the worker is done with it (or, with --wait, until Twilio's final status).
import type { AppContext } from '../context.ts';
import { callLoginCode, sendLoginCode, type LoginCallPlaced, type LoginCodeSent } from '../auth/two-factor.ts';
import { followCodeCall } from '../voice/follow-call.ts';
import { waitForNotification } from '../notifications/follow.ts';
import { notifyUser, type NotificationQueued } from '../notifications/send.ts';
import { queueSms } from '../sms/outbox.ts';
import { normalisePhoneNumber, type NormalisedPhoneNumber } from '../sms/phone.ts';
import { phonePolicyFor } from '../sms/phone-policy.ts';
import { waitForSms, withdrawUnsentSms, type SmsLogEntry } from '../sms/tracking.ts';
import { findUserByUsername, type UserSummary } from '../users/users.ts';
import { NETWORK_FIX, checkFromError, failed, passed, twilioCodeCheck, warning, type Check } from './report.ts';
import { profilePageUrl } from '../users/profile-page.ts';

export type TestSendKind = 'test_message' | 'two_factor_code' | 'new_device_login';

export interface SentMessageInfo {
  kind: TestSendKind;
  messageId: string;
  /** The full number for a test message (the operator typed it); last four digits otherwise. */
  to: string;
  sid: string | null;
  status: string;
  segments: number;
  encoding: string;
  /** USD, before sending: segments x price per segment. */
  estimatedCost: number;
  /** What Twilio charged, once it says. */
  price: number | null;
  priceUnit: string | null;
  /** Login codes: when the code stops working, and how many tries it allows. */
  expiresAt?: string;
  maxAttempts?: number;
}

export interface WaitSettings {
  timeoutMs: number;
  /** Follow the message to delivered / undelivered / failed (--wait). */
  untilFinal: boolean;
  onProgress?: (line: string) => void;
}

export interface SendResult {
  checks: Check[];
  message?: SentMessageInfo;
}

export const TEST_MESSAGE_BODY = 'DominionTrust Bank: test message from test_twilio_sms. If you can read this, SMS works. No action needed.';
/**
 * The sample security notification: a new-device alert naming the operator's test as the device,
 * short enough that the alert stays one segment as every default template does.
 */
export const SAMPLE_SECURITY_ALERT = { device: 'test_twilio_sms', location: 'the bank' } as const;

type SendContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock' | 'provider' | 'metrics'>;

/** Waits for the worker (and Twilio) and turns where the message ended up into checks. */
async function follow(ctx: SendContext, name: string, title: string, subject: string, messageId: string, wait: WaitSettings): Promise<{ checks: Check[]; entry: SmsLogEntry }> {
  const result = await waitForSms(ctx, messageId, {
    timeoutMs: wait.timeoutMs,
    untilFinal: wait.untilFinal,
    onProgress: (entry, ms) => wait.onProgress?.(`⏳ ${title} ${subject}: ${entry.status} (${(ms / 1000).toFixed(1)} s)`),
  });
  const { entry } = result;
  const withdraw = async (why: string) => {
    // A retry the worker began meanwhile is let finish (waitForSms waits out a send in flight),
    // then withdrawn if it is to be tried again: nothing is sent after the operator was told.
    for (let tries = 0; tries < 3; tries++) {
      if (await withdrawUnsentSms(ctx, messageId, why)) return ' It was withdrawn, so it will not be sent later.';
      const now = await waitForSms(ctx, messageId, { timeoutMs: 0, untilFinal: false });
      if (!['pending', 'retrying'].includes(now.entry.status)) return '';
    }
    return '';
  };

  if (result.needsAction || (result.timedOut && ['pending', 'retrying', 'sending'].includes(entry.status))) {
    const withdrawn = entry.status === 'sending' ? '' : await withdraw(`withdrawn by test_twilio_sms after ${wait.timeoutMs / 1000} s`);
    if (entry.errorCode !== null) {
      const check = twilioCodeCheck(name, entry.errorCode, `${title} ${subject} not sent`);
      return { checks: [{ ...check, detail: check.detail + withdrawn }], entry };
    }
    if (entry.errorMessage) return { checks: [failed(name, 'network', entry.errorMessage + withdrawn, NETWORK_FIX)], entry };
    return {
      checks: [failed(name, 'delivery_failed', `${title} ${subject} still ${entry.status} after ${wait.timeoutMs / 1000} s: no worker sent it.${withdrawn}`,
        'Start the server (`npm start`) or a worker (`npx dominion worker`), then try again.', { title: 'Message not sent' })],
      entry,
    };
  }
  if (['failed', 'undelivered'].includes(entry.status)) {
    if (entry.errorCode !== null) return { checks: [twilioCodeCheck(name, entry.errorCode, `${title} ${subject} ${entry.status}`)], entry };
    const network = entry.errorMessage?.startsWith('Could not reach') ?? false;
    return {
      checks: [failed(name, network ? 'network' : 'delivery_failed', `${title} ${subject} ${entry.status}: ${entry.errorMessage ?? 'no reason given'}`,
        network ? NETWORK_FIX : 'Read the reason above; `npx dominion test_twilio_sms --check-setup` checks the whole setup.')],
      entry,
    };
  }
  if (entry.status === 'expired' || entry.status === 'canceled') {
    return { checks: [failed(name, 'delivery_failed', `${title} ${subject} ${entry.status}: ${entry.errorMessage ?? ''}`, 'Try again; if it keeps happening, check that the worker keeps up (metrics at /metrics).')], entry };
  }
  const segments = `${entry.segments} segment${entry.segments === 1 ? '' : 's'} (${entry.encoding})`;
  const sid = `SID ${entry.twilioSid ?? '?'}`;
  if (!wait.untilFinal) {
    return { checks: [passed(name, title, `${subject}: accepted by Twilio, ${sid}, status ${entry.status}, ${segments}, estimated cost $${Number(entry.priceEstimate).toFixed(4)}`)], entry };
  }
  if (entry.status === 'delivered') {
    const price = entry.price === null ? `estimated cost $${Number(entry.priceEstimate).toFixed(4)}` : `charged ${Number(entry.price).toFixed(4)} ${entry.priceUnit ?? 'USD'}`;
    return { checks: [passed(name, title, `${subject}: delivered, ${sid}, ${segments}, ${price}`)], entry };
  }
  return {
    checks: [warning(name, title, `${subject}: accepted by Twilio (${sid}) but still ${entry.status} after ${wait.timeoutMs / 1000} s`,
      'Twilio keeps trying; the message log shows the final status when it comes.')],
    entry,
  };
}

function info(kind: TestSendKind, to: string, entry: SmsLogEntry, extra: Partial<SentMessageInfo> = {}): SentMessageInfo {
  return {
    kind, messageId: entry.id, to, sid: entry.twilioSid, status: entry.status, segments: entry.segments, encoding: entry.encoding,
    estimatedCost: Number(entry.priceEstimate), price: entry.price === null ? null : Number(entry.price), priceUnit: entry.priceUnit, ...extra,
  };
}

/** `--phone NUMBER`: normalise, queue a test SMS, follow it. */
export async function sendTestMessage(ctx: SendContext, input: string, wait: WaitSettings): Promise<SendResult> {
  let phone: NormalisedPhoneNumber;
  try {
    phone = normalisePhoneNumber(input, phonePolicyFor(ctx.config));
  } catch (error) {
    return { checks: [checkFromError('sms.test_message', error, 'The phone number')] };
  }
  const queued = await ctx.db.transaction((tx) => queueSms(ctx, tx, {
    type: 'test_message', lane: 'sms.standard', to: phone.e164, country: phone.country, body: TEST_MESSAGE_BODY,
  }));
  const checks: Check[] = [];
  if (phone.e164 !== input.trim()) checks.push(passed('sms.test_message.number', 'Phone number', `"${input}" read as ${phone.e164}`));
  const followed = await follow(ctx, 'sms.test_message', 'Test SMS', `to ${phone.e164}`, queued.id, wait);
  return { checks: [...checks, ...followed.checks], message: info('test_message', phone.e164, followed.entry) };
}

async function userWithPhone(ctx: SendContext, name: string, username: string): Promise<UserSummary | Check> {
  const user = await findUserByUsername(ctx.db, username);
  if (!user) {
    return failed(name, 'unknown_user', `No user is named "${username}".`,
      `Create it: npx dominion createuser ${username} --phone +14155552671 (a new embedded database gets the demo users testuser and admin on the first \`npm start\`).`);
  }
  if (!user.phoneNumber) {
    return failed(name, 'no_phone_number', `${username} has no phone number on their profile, so codes and alerts cannot reach them.`,
      `Add one on the staff console's profile page, ${profilePageUrl(ctx.config, user.id)}, or: npx dominion users set-phone ${username} +14155552671.`);
  }
  return user;
}

/** `--test-2fa USERNAME --voice`: a real login code read by a voice call, through callLoginCode. */
async function callTwoFactorTest(ctx: SendContext, username: string, user: UserSummary, wait: WaitSettings): Promise<SendResult> {
  const name = 'voice.two_factor';
  let placed: LoginCallPlaced;
  try {
    placed = await callLoginCode(ctx, user.id);
  } catch (error) {
    return { checks: [checkFromError(name, error, `${username}'s phone number`)] };
  }
  const subject = `to ${username} at ${placed.destination}`;
  const call = await followCodeCall(ctx.db, placed.callId, {
    timeoutMs: wait.timeoutMs, untilFinal: wait.untilFinal,
    onProgress: (status, ms) => wait.onProgress?.(`⏳ Two-factor code call ${subject}: ${status} (${(ms / 1000).toFixed(1)} s)`),
  });
  const expires = placed.expiresAt.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const message: SentMessageInfo = {
    kind: 'two_factor_code', messageId: call.id, to: placed.destination, sid: call.twilioSid, status: call.status, segments: 0, encoding: 'voice',
    estimatedCost: Number(call.priceEstimate), price: call.price === null ? null : Number(call.price), priceUnit: call.priceUnit,
    expiresAt: placed.expiresAt.toISOString(), maxAttempts: placed.maxAttempts,
  };
  if (call.errorCode !== null) return { checks: [twilioCodeCheck(name, call.errorCode, `Two-factor code call ${subject} ${call.status}`)], message };
  if (['pending', 'placing', 'failed', 'expired', 'busy', 'no-answer'].includes(call.status)) {
    return { checks: [failed(name, 'delivery_failed', `Two-factor code call ${subject}: ${call.status}${call.status === 'pending' ? ` after ${wait.timeoutMs / 1000} s: no worker placed it` : ''}.`,
      call.status === 'pending' ? 'Start the server (`npm start`) or a worker (`npx dominion worker`), then try again.' : 'Check the number can take calls; `--check-setup` checks the sender.',
      { title: 'Call not placed' })], message };
  }
  return {
    checks: [passed(name, 'Two-factor code call', `${subject}: placed, SID ${call.twilioSid ?? '?'}, status ${call.status}, estimated cost $${Number(call.priceEstimate).toFixed(4)}; code valid until ${expires}, ${placed.maxAttempts} attempts, single use`)],
    message,
  };
}

/** `--test-2fa USERNAME`: a real login code, through sendLoginCode (by call with `voice`). The code is never shown. */
export async function sendTwoFactorTest(ctx: SendContext, username: string, wait: WaitSettings, voice = false): Promise<SendResult> {
  const name = 'sms.two_factor';
  const user = await userWithPhone(ctx, voice ? 'voice.two_factor' : name, username);
  if ('level' in user) return { checks: [user] };
  if (voice) return callTwoFactorTest(ctx, username, user, wait);
  let sent: LoginCodeSent;
  try {
    sent = await sendLoginCode(ctx, user.id);
  } catch (error) {
    return { checks: [checkFromError(name, error, `${username}'s phone number`)] };
  }
  const expires = sent.expiresAt.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const followed = await follow(ctx, name, 'Two-factor code', `to ${username} at ${sent.destination}`, sent.messageId, wait);
  const checks = followed.checks.map((c) => (c.ok ? { ...c, detail: `${c.detail}; code valid until ${expires}, ${sent.maxAttempts} attempts, single use` } : c));
  return { checks, message: info('two_factor_code', sent.destination, followed.entry, { expiresAt: sent.expiresAt.toISOString(), maxAttempts: sent.maxAttempts }) };
}

/** `--test-notification USERNAME`: a sample security alert, through notifyUser. */
export async function sendNotificationTest(ctx: SendContext, username: string, wait: WaitSettings): Promise<SendResult> {
  const name = 'sms.notification';
  const user = await userWithPhone(ctx, name, username);
  if ('level' in user) return { checks: [user] };
  let queued: NotificationQueued;
  try {
    queued = await ctx.db.transaction((tx) => notifyUser(ctx, tx, { userId: user.id, type: 'new_device_login', values: { ...SAMPLE_SECURITY_ALERT, time: ctx.clock.now() } }));
  } catch (error) {
    return { checks: [checkFromError(name, error, `${username}'s phone number`)] };
  }
  const destination = queued.destination ?? '';
  // The worker's policy step queues the SMS (or moves or holds it, saying why); wait for it first.
  const sms = queued.notifications.find((n) => n.channel === 'sms');
  const decided = sms && (await waitForNotification(ctx, sms.id, { timeoutMs: wait.timeoutMs }));
  if (!decided?.row.smsMessageId) {
    const what = !decided ? `${username} gets this alert by email only (their preference)`
      : decided.timedOut ? `still ${decided.row.status} after ${wait.timeoutMs / 1000} s: no worker took it`
      : `not sent by SMS: ${decided.row.status}${decided.row.reason ? ` (${decided.row.reason})` : ''}`;
    return { checks: [failed(name, 'delivery_failed', `Security notification to ${username} at ${destination}: ${what}.`,
      decided?.timedOut ? 'Start the server (`npm start`) or a worker (`npx dominion worker`), then try again.' : 'Read the reason above: the notification policy decided it.',
      { title: 'Message not sent' })] };
  }
  const followed = await follow(ctx, name, 'Security notification', `to ${username} at ${destination}`, decided.row.smsMessageId, wait);
  return { checks: followed.checks, message: info('new_device_login', destination, followed.entry) };
}
