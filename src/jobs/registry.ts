// The typed registry of background jobs: every queue, the payload its jobs carry, and how
// pg-boss treats it. Lanes keep codes and security alerts ahead of bulk traffic.
import type { Queue } from 'pg-boss';

/** Payload of a job that sends one logged SMS (a row of sms_messages). */
export interface SmsSendJob {
  messageId: string;
}

/**
 * Payload of a job that runs the policy step of one SMS notification (a row of notifications):
 * quiet hours, digest, limits, then render and queue its SMS. It travels on the lane of its type,
 * so a security alert's policy step never waits behind bulk either.
 */
export interface NotificationDispatchJob {
  notificationId: string;
}

/** A job of an SMS lane: the policy step of a notification, or the send of a queued message. */
export type SmsLaneJob = SmsSendJob | NotificationDispatchJob;

/** Payload of a job that places one logged voice call (a row of voice_calls) reading a code. */
export interface VoiceCallJob {
  callId: string;
}

/** Payload of a job that tells the owners of a number just marked unreachable, by email. */
export interface PhoneUnreachableJob {
  phoneNumber: string;
  /** ISO instant of the marking: one email per marking, however often the job runs. */
  markedAt: string;
}

/** Scheduled jobs carry nothing: they work out what is due from the database and the clock. */
export type ScheduledJob = Record<string, never>;

export interface JobPayloads {
  /** Codes and security alerts: never wait behind anything else. */
  'sms.critical': SmsLaneJob;
  /** Transaction and account alerts. */
  'sms.standard': SmsLaneJob;
  /** Digests, reminders, anything that can wait. */
  'sms.bulk': SmsLaneJob;
  /** Sends one email notification; the job's priority follows its type's lane. */
  'notification.email': NotificationDispatchJob;
  /** Hourly: queues the daily summary SMS of customers whose local morning has come. */
  'notification.digest': ScheduledJob;
  /** Hourly: deletes limit counters of windows long past. */
  'rate_limits.prune': ScheduledJob;
  /** Every 5 minutes: gives notifications whose job was lost a new one. */
  'notification.sweep': ScheduledJob;
  /** Daily: marks cards past expiry as expired and sends the 'card expiring' notice 30 days ahead. */
  'cards.expiring': ScheduledJob;
  /** Places a code call ("call me instead", or SMS cannot reach the number): as urgent as a code SMS. */
  'voice.code': VoiceCallJob;
  /** Emails the owners of a number just marked unreachable how to fix it (once per marking). */
  'phone.unreachable': PhoneUnreachableJob;
}

export type QueueName = keyof JobPayloads;
export type SmsLane = 'sms.critical' | 'sms.standard' | 'sms.bulk';

/** pg-boss priority of an email by the lane its type's SMS would take: higher goes first. */
export const EMAIL_PRIORITY: Record<SmsLane, number> = { 'sms.critical': 2, 'sms.standard': 1, 'sms.bulk': 0 };

/** Cron expressions (UTC) of the scheduled jobs. */
export const SCHEDULES: Partial<Record<QueueName, string>> = {
  'notification.digest': '0 * * * *',
  'rate_limits.prune': '17 * * * *',
  'notification.sweep': '*/5 * * * *',
  // Mid-morning in the US; the notices would wait for the end of quiet hours anyway.
  'cards.expiring': '0 14 * * *',
};

/**
 * Queue settings. Retries of SMS sends are scheduled by the sender itself (it knows Twilio's
 * Retry-After and the code's validity), so pg-boss retries only cover a crashed worker.
 */
export const QUEUES: Record<QueueName, Omit<Queue, 'name'>> = {
  'sms.critical': { notify: true, retryLimit: 3, retryDelay: 1, retryBackoff: true, expireInSeconds: 60 },
  'sms.standard': { notify: true, retryLimit: 3, retryDelay: 5, retryBackoff: true, expireInSeconds: 120 },
  'sms.bulk': { notify: true, retryLimit: 3, retryDelay: 30, retryBackoff: true, expireInSeconds: 300 },
  // Email retries are scheduled by the sender too (a 4xx reply); these cover a crashed worker.
  'notification.email': { notify: true, retryLimit: 3, retryDelay: 10, retryBackoff: true, expireInSeconds: 60 },
  'notification.digest': { notify: false, retryLimit: 2, retryDelay: 60, expireInSeconds: 900 },
  'rate_limits.prune': { notify: false, retryLimit: 1, retryDelay: 60, expireInSeconds: 300 },
  'notification.sweep': { notify: false, retryLimit: 1, retryDelay: 60, expireInSeconds: 240 },
  'cards.expiring': { notify: false, retryLimit: 3, retryDelay: 300, retryBackoff: true, expireInSeconds: 900 },
  'voice.code': { notify: true, retryLimit: 3, retryDelay: 1, retryBackoff: true, expireInSeconds: 60 },
  'phone.unreachable': { notify: true, retryLimit: 5, retryDelay: 10, retryBackoff: true, expireInSeconds: 60 },
};

export const QUEUE_NAMES = Object.keys(QUEUES) as QueueName[];
