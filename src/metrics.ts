// Prometheus metrics of this process, on a registry of its own (tests build several apps).
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  /** SMS handed to the provider, by notification type and resulting status. */
  readonly smsSent: Counter<'type' | 'status'>;
  /** Estimated USD cost of SMS accepted by the provider. */
  readonly smsEstimatedCost: Counter<'type'>;
  /** Time one provider send takes, accepted or not. */
  readonly smsSendDuration: Histogram<'outcome'>;
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
  };
}
