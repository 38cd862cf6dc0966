import type { FastifyInstance } from 'fastify';
import type { HealthChecker } from '../ops/health.js';

/**
 * Health endpoints, the same on every listener that has them:
 *
 *   /livez    the process is up and its event loop turns: 200 always. Kubernetes liveness:
 *             restarting Berth does not bring a database back, so this never fails on one.
 *   /readyz   this node can serve now: 503 while the database or the blob store cannot be
 *             reached (and while shutting down). Load balancers and readiness probes.
 *   /healthz  the full report naming each dependency and its state: 503 when any is not ok,
 *             including a full blob store (reads still work, pushes do not). Monitoring, humans.
 */
export function registerHealthRoutes(app: FastifyInstance, health: HealthChecker): void {
  const opts = { schema: { hide: true } };
  app.route({
    ...opts,
    method: ['GET', 'HEAD'],
    url: '/livez',
    handler: async (_req, reply) => reply.header('Cache-Control', 'no-store').send({ status: 'alive' }),
  });
  app.route({
    ...opts,
    method: ['GET', 'HEAD'],
    url: '/readyz',
    handler: async (_req, reply) => {
      const report = await health.check();
      const down = Object.entries(report.checks).filter(([, c]) => c.status === 'down');
      reply.header('Cache-Control', 'no-store');
      if (down.length === 0) return reply.status(200).send({ status: 'ready' });
      return reply.status(503).send({ status: 'not ready', reason: down.map(([name, c]) => `${name} is down: ${c.error ?? 'no answer'}`).join('; ') });
    },
  });
  app.route({
    ...opts,
    method: ['GET', 'HEAD'],
    url: '/healthz',
    handler: async (_req, reply) => {
      const report = await health.check();
      return reply.status(report.status === 'ok' ? 200 : 503).header('Cache-Control', 'no-store').send(report);
    },
  });
}
