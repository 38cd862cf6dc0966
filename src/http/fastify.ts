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
  // A response that goes out before its request body was received in full (a push refused
  // midway: 507, 413, 401…) closes the connection, as Go's net/http does: a client that stops
  // sending on an early answer would otherwise leave the rest of its body to be read as its
  // next request.
  app.addHook('onSend', async (req, reply) => {
    if (draining || !req.raw.complete) reply.header('Connection', 'close');
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
