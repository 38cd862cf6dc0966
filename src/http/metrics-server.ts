import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';
import { registerHealthRoutes } from './health.js';

/**
 * The metrics listener (`--metrics-listen`): Prometheus' `/metrics` and the health endpoints,
 * on an address of the operator's choosing, usually private, apart from the public listeners
 * (as Distribution's debug server and GitLab's registry `debug.addr` do).
 */
export function createMetricsServer(ctx: AppContext, hooks: { beforeScrape?: () => Promise<void> } = {}): FastifyInstance {
  const app = Fastify({ loggerInstance: ctx.logger.child({ listener: 'metrics' }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), forceCloseConnections: true });
  app.get('/metrics', async (_req, reply) => {
    await hooks.beforeScrape?.();
    reply.header('Content-Type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
  registerHealthRoutes(app, ctx.health);
  return app;
}
