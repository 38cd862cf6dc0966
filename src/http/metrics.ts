import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Prometheus metrics for one process: default Node metrics plus request timings per listener. */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Histogram<'listener' | 'method' | 'status'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'berth_' });
    this.requests = new Histogram({
      name: 'berth_http_request_duration_seconds',
      help: 'HTTP request duration by listener, method and status',
      labelNames: ['listener', 'method', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [this.registry],
    });
  }

  instrument(app: FastifyInstance, listener: string): void {
    app.addHook('onResponse', async (req, reply) => {
      this.requests.observe({ listener, method: req.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });
  }
}
