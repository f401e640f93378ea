// The typed registry of background jobs: every queue, the payload its jobs carry, and how
// pg-boss treats it. Lanes keep codes and security alerts ahead of bulk traffic.
import type { Queue } from 'pg-boss';

/** Payload of a job that sends one logged SMS (a row of sms_messages). */
export interface SmsSendJob {
  messageId: string;
}

/** Payload of a job that asks the provider for a sent message's latest status. */
export interface SmsStatusJob {
  messageId: string;
  attempt: number;
}

export interface JobPayloads {
  /** Codes and security alerts: never wait behind anything else. */
  'sms.critical': SmsSendJob;
  /** Transaction and account alerts. */
  'sms.standard': SmsSendJob;
  /** Digests, reminders, anything that can wait. */
  'sms.bulk': SmsSendJob;
  /** Follows a sent message until its status is final. */
  'sms.status': SmsStatusJob;
}

export type QueueName = keyof JobPayloads;
export type SmsLane = 'sms.critical' | 'sms.standard' | 'sms.bulk';

/**
 * Queue settings. Retries of SMS sends are scheduled by the sender itself (it knows Twilio's
 * Retry-After and the code's validity), so pg-boss retries only cover a crashed worker.
 */
export const QUEUES: Record<QueueName, Omit<Queue, 'name'>> = {
  'sms.critical': { notify: true, retryLimit: 3, retryDelay: 1, retryBackoff: true, expireInSeconds: 60 },
  'sms.standard': { notify: true, retryLimit: 3, retryDelay: 5, retryBackoff: true, expireInSeconds: 120 },
  'sms.bulk': { notify: true, retryLimit: 3, retryDelay: 30, retryBackoff: true, expireInSeconds: 300 },
  'sms.status': { notify: false, retryLimit: 5, retryDelay: 10, retryBackoff: true, expireInSeconds: 60 },
};

export const QUEUE_NAMES = Object.keys(QUEUES) as QueueName[];
