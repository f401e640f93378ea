// What moved a message's status, for its timeline: the trigger that writes sms_status_history
// (drizzle/0012_status_source_staff_sessions.sql) reads the source the transaction named here.
import { sql } from 'drizzle-orm';
import type { Queryable } from '../db/connection.ts';

/**
 * callback: Twilio's status callback; status_check: our question to Twilio (the status job, an
 * operator's test waiting on it); send_answer: Twilio's answer to the send itself (accepted or
 * refused); lost_send_recovery: a send a crashed worker made, found at Twilio afterwards.
 */
export type StatusSource = 'callback' | 'status_check' | 'send_answer' | 'lost_send_recovery';

/** How the timeline names each source. */
export const STATUS_SOURCE_LABELS: Record<StatusSource, string> = {
  callback: "Twilio's status callback",
  status_check: 'our status check at Twilio',
  send_answer: "Twilio's answer to the send",
  lost_send_recovery: 'the recovery of a send a lost worker made',
};

/**
 * Names the source of the status changes this transaction makes (until it ends: set_config with
 * is_local). Must run inside the transaction: outside one it lasts a single statement.
 */
export async function setStatusSource(tx: Queryable, source: StatusSource): Promise<void> {
  await tx.execute(sql`select set_config('dominion.status_source', ${source}, true)`);
}
