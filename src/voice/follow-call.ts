// Follows a code call in the call log until the worker placed it (or, asked to, until Twilio
// says how it ended): what `test_twilio_sms --test-2fa --voice` waits on.
import { setTimeout as sleep } from 'node:timers/promises';
import { eq } from 'drizzle-orm';
import type { Queryable } from '../db/connection.ts';
import { voiceCalls } from '../db/schema.ts';
import { FINAL_CALL_STATUSES } from './code-call.ts';

export type CallLogEntry = typeof voiceCalls.$inferSelect;

export async function followCodeCall(
  db: Queryable, callId: string,
  options: { timeoutMs: number; untilFinal: boolean; onProgress?: (status: string, elapsedMs: number) => void },
): Promise<CallLogEntry> {
  const started = Date.now();
  let lastProgress = started;
  for (;;) {
    const [row] = await db.select().from(voiceCalls).where(eq(voiceCalls.id, callId));
    if (!row) throw new Error(`no call ${callId}`);
    const placed = row.status !== 'pending' && row.status !== 'placing';
    if ((placed && !options.untilFinal) || FINAL_CALL_STATUSES.includes(row.status) || row.status === 'failed') return row;
    if (Date.now() - started >= options.timeoutMs) return row;
    if (Date.now() - lastProgress >= 2000) {
      lastProgress = Date.now();
      options.onProgress?.(row.status, lastProgress - started);
    }
    await sleep(50);
  }
}
