import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  usageEvents: Counter<'result'>;
  alertsFired: Counter;
  outboxFailures: Counter<'kind'>;
  outboxDepth: Gauge;
  outboxOldestSeconds: Gauge;
  reconciliationDrift: Gauge<'kind'>;
  unpricedCalls: Counter<'model'>;
}

/** One registry per service instance (tests build many apps in one process). */
export function createMetrics(collect?: (m: Metrics) => Promise<void>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'companion_process_' });
  const m: Metrics = {
    registry,
    httpRequests: new Counter({ name: 'companion_http_requests_total', help: 'HTTP requests', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    httpDuration: new Histogram({
      name: 'companion_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    usageEvents: new Counter({ name: 'companion_usage_events_total', help: 'Usage events received, by result (accepted, duplicate, unattributed, rejected)', labelNames: ['result'], registers: [registry] }),
    alertsFired: new Counter({ name: 'companion_alerts_fired_total', help: 'Threshold alerts fired', registers: [registry] }),
    outboxFailures: new Counter({ name: 'companion_outbox_failures_total', help: 'Failed outbox attempts (LiteLLM or mail errors)', labelNames: ['kind'], registers: [registry] }),
    outboxDepth: new Gauge({ name: 'companion_outbox_pending', help: 'Outbox items waiting', registers: [registry] }),
    outboxOldestSeconds: new Gauge({ name: 'companion_outbox_oldest_seconds', help: 'Age of the oldest waiting outbox item', registers: [registry] }),
    reconciliationDrift: new Gauge({ name: 'companion_reconciliation_items', help: 'Differences in the last reconciliation, by kind', labelNames: ['kind'], registers: [registry] }),
    unpricedCalls: new Counter({
      name: 'companion_unpriced_calls_total',
      help: 'Successful calls LiteLLM priced at 0 although they used tokens (model missing from its cost map: free usage), by model',
      labelNames: ['model'],
      registers: [registry],
    }),
  };
  if (collect) {
    // refreshed at scrape time
    new Gauge({ name: 'companion_scrape_ok', help: '1 when the scrape-time queries succeeded', registers: [registry], collect: async function () {
      try {
        await collect(m);
        this.set(1);
      } catch {
        this.set(0);
      }
    } });
  }
  return m;
}

/** Distinct model labels kept on companion_unpriced_calls_total; beyond them, `model="other"`. */
const MAX_UNPRICED_MODEL_LABELS = 100;

const unpricedLabels = new WeakMap<Metrics, Set<string>>();

/** Count unpriced calls per model (label values bounded: the model name comes from the payload). */
export function countUnpriced(m: Metrics, perModel: Record<string, number>): void {
  let seen = unpricedLabels.get(m);
  if (!seen) unpricedLabels.set(m, (seen = new Set()));
  for (const [model, n] of Object.entries(perModel)) {
    const label = seen.has(model) || seen.size < MAX_UNPRICED_MODEL_LABELS ? model : 'other';
    seen.add(label);
    m.unpricedCalls.inc({ model: label }, n);
  }
}
