// Simulated time for accepted messages: one status step every statusStepMs, ending delivered,
// undelivered or failed as planned when the message was accepted. Timers are unref'd so a
// forgotten simulator never keeps a process alive, and all are cleared on close.
import type { ResolvedOptions } from './options.ts';
import type { Outcome, StatusChange, StoredMessage } from './store.ts';

/** Decides how a message will end: listed numbers first, then the random failure rate. */
export function planOutcome(to: string, options: ResolvedOptions): Outcome {
  if (options.failedNumbers.has(to)) return { status: 'failed', errorCode: 30008 };
  if (options.undeliverableNumbers.has(to)) return { status: 'undelivered', errorCode: 30003 };
  if (options.failureRate > 0 && options.random() < options.failureRate) {
    // Unreachable (30003) and unknown (30005) handsets are the common real-world causes.
    return { status: 'undelivered', errorCode: options.random() < 0.5 ? 30003 : 30005 };
  }
  return { status: 'delivered' };
}

/**
 * The status after the current one, or null once final. A message still queued after its
 * ValidityPeriod fails with 30036 ("Validity Period Expired") instead of being sent; it waits
 * one step in the queue, so only a ValidityPeriod shorter than statusStepMs expires here.
 */
export function nextStatus(message: StoredMessage, now: Date): StatusChange | null {
  switch (message.status) {
    case 'accepted':
      return { status: 'queued' };
    case 'queued': {
      const waitedMs = now.getTime() - message.dateCreated.getTime();
      if (message.validityPeriod !== null && waitedMs > message.validityPeriod * 1000) {
        return { status: 'failed', errorCode: 30036 };
      }
      return { status: 'sending' };
    }
    case 'sending':
      return message.outcome.status === 'failed'
        ? { status: 'failed', errorCode: message.outcome.errorCode }
        : { status: 'sent' };
    case 'sent':
      return message.outcome.status === 'undelivered'
        ? { status: 'undelivered', errorCode: message.outcome.errorCode }
        : { status: 'delivered' };
    default:
      return null;
  }
}

/** Runs each accepted message through its statuses; `onStep` applies and reports each change. */
export class DeliveryClock {
  readonly #stepMs: number;
  readonly #onStep: (message: StoredMessage, change: StatusChange) => void;
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(stepMs: number, onStep: (message: StoredMessage, change: StatusChange) => void) {
    this.#stepMs = stepMs;
    this.#onStep = onStep;
  }

  start(message: StoredMessage): void {
    this.#schedule(message);
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #schedule(message: StoredMessage): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#stopped) return;
      const change = nextStatus(message, new Date());
      if (!change) return;
      this.#onStep(message, change);
      this.#schedule(message);
    }, this.#stepMs);
    timer.unref();
    this.#timers.add(timer);
  }
}
