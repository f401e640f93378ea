// Prometheus metrics of this process, on a registry of its own (tests build several apps).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * What the notification pipeline decided for one notification on one channel:
 * sent (SMS queued to the message log, or email accepted by SMTP), held (quiet hours, a limit, an
 * email retry), skipped (nothing sent, with its reason), moved (to the other channel), digested
 * (into the daily summary SMS), failed (a critical message that could not go, or an email refused).
 */
export type NotificationOutcome = 'sent' | 'held' | 'skipped' | 'moved' | 'digested' | 'failed';

export interface Metrics {
  readonly registry: Registry;
  /** SMS handed to the provider, by notification type and resulting status. */
  readonly smsSent: Counter<'type' | 'status'>;
  /** Estimated USD cost of SMS accepted by the provider. */
  readonly smsEstimatedCost: Counter<'type'>;
  /** Time one provider send takes, accepted or not. */
  readonly smsSendDuration: Histogram<'outcome'>;
  /** Sends that could not leave within their sender slot and booked another (a stalled process). */
  readonly smsSlotsMissed: Counter;
  /** Decisions of the notification pipeline, by type, channel and outcome. */
  readonly notifications: Counter<'type' | 'channel' | 'outcome'>;
  /** Segments of the notification SMS the pipeline queued, by type. */
  readonly smsQueuedSegments: Counter<'type'>;
  /** Estimated USD cost of the notification SMS the pipeline queued, by type (what the spend cap counts). */
  readonly smsQueuedCost: Counter<'type'>;
  /** Code calls handed to the provider, by type and resulting status. */
  readonly voiceCalls: Counter<'type' | 'status'>;
  /** Estimated USD cost of code calls placed (VOICE_PRICE_PER_MINUTE x one minute each). */
  readonly voiceEstimatedCost: Counter<'type'>;
  /** The circuit breaker of each Twilio account: 1 for its current state (closed, open, half_open), 0 for the others. */
  readonly twilioCircuitState: Gauge<'account' | 'state'>;
  /** Times each account's circuit opened. */
  readonly twilioCircuitOpened: Counter<'account'>;
  /** Requests not sent to Twilio because the account's circuit was open (the work is rescheduled), by operation. */
  readonly twilioShortCircuited: Counter<'account' | 'operation'>;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  return {
    registry,
    smsSent: new Counter({
      name: 'dominion_sms_sent_total',
      help: 'SMS handed to the provider, by type and resulting status',
      labelNames: ['type', 'status'],
      registers: [registry],
    }),
    smsEstimatedCost: new Counter({
      name: 'dominion_sms_estimated_cost_usd_total',
      help: 'Estimated USD cost of SMS accepted by the provider',
      labelNames: ['type'],
      registers: [registry],
    }),
    smsSendDuration: new Histogram({
      name: 'dominion_sms_send_duration_seconds',
      help: 'Duration of one provider send call',
      labelNames: ['outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    smsSlotsMissed: new Counter({
      name: 'dominion_sms_sender_slots_missed_total',
      help: 'Sends that missed their sender slot (the process stalled) and booked the next one',
      registers: [registry],
    }),
    notifications: new Counter({
      name: 'dominion_notifications_total',
      help: 'Notification pipeline decisions, by type, channel and outcome (sent, held, skipped, moved, digested, failed)',
      labelNames: ['type', 'channel', 'outcome'],
      registers: [registry],
    }),
    smsQueuedSegments: new Counter({
      name: 'dominion_sms_queued_segments_total',
      help: 'Segments of the SMS the notification pipeline queued, by type',
      labelNames: ['type'],
      registers: [registry],
    }),
    smsQueuedCost: new Counter({
      name: 'dominion_sms_queued_estimated_cost_usd_total',
      help: 'Estimated USD cost of the SMS the notification pipeline queued, by type',
      labelNames: ['type'],
      registers: [registry],
    }),
    voiceCalls: new Counter({
      name: 'dominion_voice_calls_total',
      help: 'Code calls handed to the provider, by type and resulting status',
      labelNames: ['type', 'status'],
      registers: [registry],
    }),
    voiceEstimatedCost: new Counter({
      name: 'dominion_voice_estimated_cost_usd_total',
      help: 'Estimated USD cost of code calls placed',
      labelNames: ['type'],
      registers: [registry],
    }),
    twilioCircuitState: new Gauge({
      name: 'dominion_twilio_circuit_state',
      help: 'Circuit breaker of each Twilio account: 1 for its current state (closed, open, half_open), 0 for the others',
      labelNames: ['account', 'state'],
      registers: [registry],
    }),
    twilioCircuitOpened: new Counter({
      name: 'dominion_twilio_circuit_opened_total',
      help: 'Times the circuit breaker of a Twilio account opened',
      labelNames: ['account'],
      registers: [registry],
    }),
    twilioShortCircuited: new Counter({
      name: 'dominion_twilio_short_circuited_total',
      help: 'Requests not sent to Twilio because the account circuit was open (rescheduled, not failed), by operation',
      labelNames: ['account', 'operation'],
      registers: [registry],
    }),
  };
}

/** The outcome a notification's recorded status and reason stand for, for the counter above. */
export function notificationOutcome(status: string, reason: string | null): NotificationOutcome | undefined {
  switch (status) {
    case 'queued':
    case 'sent':
      return 'sent';
    case 'held':
      return 'held';
    case 'digested':
      return 'digested';
    case 'failed':
      return 'failed';
    case 'skipped':
      return reason?.startsWith('moved_to_') ? 'moved' : 'skipped';
    default:
      return undefined;
  }
}
