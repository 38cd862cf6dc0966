import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';
import { requestIdFor } from './request-id.js';

/**
 * A Fastify instance with what both listeners share: request ids echoed in `X-Request-Id`
 * and on every log line, one log line per request, raw (unparsed) bodies by default.
 */
export function createFastify(ctx: AppContext, listener: 'api' | 'registry'): FastifyInstance {
  const app = Fastify({
    loggerInstance: ctx.logger.child({ listener }) as FastifyBaseLogger,
    genReqId: requestIdFor,
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    exposeHeadRoutes: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    keepAliveTimeout: 75_000,
    // Blob uploads may take long; idle sockets are still reaped by keepAliveTimeout.
    requestTimeout: 0,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 2048 },
  });
  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-Request-Id', req.id);
  });
  // While draining, every response closes its connection, so keep-alive clients cannot hold
  // the process open after their last request (docker keeps idle connections ~90 s).
  let draining = false;
  let reaper: NodeJS.Timeout | undefined;
  app.decorate('startDraining', () => {
    draining = true;
    reaper = setInterval(() => app.server.closeIdleConnections(), 100);
    reaper.unref();
  });
  app.addHook('onClose', async () => clearInterval(reaper));
  app.addHook('onSend', async (_req, reply) => {
    if (draining) reply.header('Connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    req.log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Begins a graceful stop: answer in-flight requests, then close their connections. */
    startDraining(): void;
  }
}
