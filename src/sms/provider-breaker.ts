// A circuit breaker per Twilio account: after a run of failures that say Twilio itself is in
// trouble (429, 5xx, timeouts, resets; not a refusal of one message such as 21211), or at once on
// a 429 with Retry-After (Twilio's word for the account), no request goes to the account for a
// while. Callers are told until when, so the worker reschedules the
// send instead of failing it; after the open period one probe goes through (half-open) and its
// answer closes or reopens the circuit.
//
// Hand-written rather than cockatiel or opossum (both looked at): the worker needs the instant the
// open period ends, to park each job in pg-boss until then instead of holding a worker, and a 429's
// Retry-After must lengthen that period; cockatiel keeps the instant private and makes calls
// arriving while a probe is in flight wait for it, opossum fixes the period at construction.
//
// The state lives in this process: each worker process learns of a storm from its own failures
// and probes on its own. That costs at most a run of failures and one probe per process, which is
// acceptable; sharing it through PostgreSQL would add a query to every send.
import type { Metrics } from '../metrics.ts';
import { SmsProviderError, type SmsProvider } from './provider.ts';

export type CircuitState = 'closed' | 'open' | 'half_open';
export const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half_open'];

export interface CircuitSettings {
  /** Retryable failures in a row that open the circuit; 0 turns the breaker off. */
  failures: number;
  /** How long the circuit stays open before a probe, at least; a longer Retry-After wins. */
  openMs: number;
}

/** Thrown instead of calling Twilio while the circuit is open: retry at `retryAfterMs`, it is no failure of the message. */
export class CircuitOpenError extends SmsProviderError {
  constructor(account: string, waitMs: number) {
    super({
      kind: 'transient',
      message: `Twilio paused for account ${account}: its recent requests failed (429, 5xx or no answer); the next try is in ${Math.ceil(waitMs / 1000)} s.`,
      retryAfterMs: waitMs,
    });
    this.name = 'CircuitOpenError';
  }
}

/** Whether a failure says the account's API is in trouble (as opposed to refusing one request). */
function isStormFailure(error: unknown): boolean {
  return error instanceof SmsProviderError && !(error instanceof CircuitOpenError) && (error.kind === 'transient' || error.kind === 'rate_limited');
}

/** How metrics and messages name an account: AC…cdef, as staff screens show it (src/twilio-setup/settings.ts). */
export function accountLabel(accountSid: string): string {
  return `${accountSid.slice(0, 2)}…${accountSid.slice(-4)}`;
}

export class ProviderCircuit {
  /** The account as metrics and messages name it (accountLabel). */
  readonly account: string;
  readonly #settings: CircuitSettings;
  readonly #metrics: Metrics;
  /** Real time, not the app clock: Twilio's Retry-After runs in real time, and tests hold the app clock. */
  readonly #now: () => number;
  #state: CircuitState = 'closed';
  #failuresInARow = 0;
  #openUntil = 0;
  #probeInFlight = false;
  readonly #onClosed: (() => void)[] = [];

  constructor(accountSid: string, settings: CircuitSettings, metrics: Metrics, now: () => number = Date.now) {
    this.account = accountLabel(accountSid);
    this.#settings = settings;
    this.#metrics = metrics;
    this.#now = now;
    this.#show();
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** The shortest open period (TWILIO_BREAKER_OPEN_MS). */
  get openMs(): number {
    return this.#settings.openMs;
  }

  /**
   * Calls `listener` each time the circuit closes again after a storm: the worker wakes its code
   * lane then, so the codes parked meanwhile go before the backlog instead of at the next poll.
   */
  onClosed(listener: () => void): void {
    this.#onClosed.push(listener);
  }

  /** Counts requests the caller did not make because the circuit was open (see run). */
  shortCircuited(operation: string, count = 1): void {
    this.#metrics.twilioShortCircuited.inc({ account: this.account, operation }, count);
  }

  /** Milliseconds to wait before a request may go, or 0 when one may go now. */
  waitMs(): number {
    if (this.#state === 'closed') return 0;
    const now = this.#now();
    if (this.#state === 'open') return Math.max(0, this.#openUntil - now);
    // Half-open with the probe out: its answer is due within the request timeout; look again soon.
    return this.#probeInFlight ? Math.min(this.#settings.openMs, 1000) : 0;
  }

  /** Runs one request to the account, or throws CircuitOpenError without sending it. */
  async run<T>(operation: string, request: () => Promise<T>): Promise<T> {
    if (this.#settings.failures <= 0) return request();
    const wait = this.waitMs();
    if (wait > 0) {
      this.shortCircuited(operation);
      throw new CircuitOpenError(this.account, wait);
    }
    const probe = this.#state !== 'closed';
    if (probe) {
      this.#probeInFlight = true;
      this.#enter('half_open');
    }
    try {
      const result = await request();
      this.#succeeded();
      return result;
    } catch (error) {
      if (isStormFailure(error)) this.#failed(error as SmsProviderError, probe);
      else this.#succeeded(); // Twilio answered (e.g. 21211 for one number): the account works.
      throw error;
    } finally {
      if (probe) this.#probeInFlight = false;
    }
  }

  #succeeded(): void {
    this.#failuresInARow = 0;
    if (this.#state === 'closed') return;
    this.#enter('closed');
    for (const listener of this.#onClosed) listener();
  }

  #failed(error: SmsProviderError, probe: boolean): void {
    this.#failuresInARow += 1;
    // A 429 that says when to come back is Twilio's word for the whole account: it opens at once.
    const toldWhen = error.kind === 'rate_limited' && error.retryAfterMs !== null;
    if (!probe && !toldWhen && this.#state === 'closed' && this.#failuresInARow < this.#settings.failures) return;
    const until = this.#now() + Math.max(this.#settings.openMs, error.retryAfterMs ?? 0);
    // Answers to requests sent before the circuit opened may arrive after: they only lengthen it.
    this.#openUntil = Math.max(this.#openUntil, until);
    if (this.#state !== 'open') {
      this.#metrics.twilioCircuitOpened.inc({ account: this.account });
      this.#enter('open');
    }
  }

  #enter(state: CircuitState): void {
    this.#state = state;
    this.#show();
  }

  #show(): void {
    for (const s of CIRCUIT_STATES) this.#metrics.twilioCircuitState.set({ account: this.account, state: s }, s === this.#state ? 1 : 0);
  }
}

/** The provider with every request to the account going through its circuit. */
export function guardProvider(provider: SmsProvider, circuit: ProviderCircuit): SmsProvider {
  return {
    name: provider.name,
    send: (request) => circuit.run('send', () => provider.send(request)),
    fetchMessage: (sid) => circuit.run('fetch_message', () => provider.fetchMessage(sid)),
    listMessagesTo: (to, limit) => circuit.run('list_messages', () => provider.listMessagesTo(to, limit)),
    placeCall: (request) => circuit.run('place_call', () => provider.placeCall(request)),
    fetchAccount: () => circuit.run('fetch_account', () => provider.fetchAccount()),
    fetchBalance: () => circuit.run('fetch_balance', () => provider.fetchBalance()),
    listSenderNumbers: () => circuit.run('list_numbers', () => provider.listSenderNumbers()),
  };
}
