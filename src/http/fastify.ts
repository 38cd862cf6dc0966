import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';
import { AppError } from '../errors/index.js';
import { createNodeServer, protectConnections } from './connections.js';
import { clientErrorReply, frameworkErrorReply, installErrorReplies, writeRawError, type ErrorShape } from './error-replies.js';
import { trustProxyOf } from './forwarded.js';
import { requestIdFor } from './request-id.js';
import { readTlsMaterial } from './tls.js';

/**
 * A Fastify instance with what both listeners share: HTTP or HTTPS, the connection limits
 * (header and idle timeouts, a connection cap, closing after an unread body), every error in the
 * listener's envelope (`shape`), request ids echoed in `X-Request-Id` and on every log line,
 * and one access-log line per request (redacted by the logger).
 */
export function createFastify(ctx: AppContext, listener: 'api' | 'registry', shape: ErrorShape): FastifyInstance {
  const { config } = ctx;
  const log = ctx.logger.child({ listener }) as FastifyBaseLogger;
  const tls = config.tls ? readTlsMaterial(config.tls) : undefined;
  const app = Fastify({
    loggerInstance: log,
    genReqId: requestIdFor,
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    serverFactory: (handler) => createNodeServer(config, handler, tls),
    trustProxy: config.trustProxy.length > 0 ? (address) => trustProxyOf(config)(address) : undefined,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 2048 },
    frameworkErrors: frameworkErrorReply(shape),
    clientErrorHandler: clientErrorReply(shape, () => log),
  });
  installErrorReplies(app, shape);
  protectConnections(app, config, log, (socket) => writeRawError(socket, shape, new AppError('METHOD_NOT_ALLOWED', 'CONNECT is not supported')));
  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-Request-Id', req.id);
    // A NUL names nothing here, and PostgreSQL refuses it in text: refuse it before any lookup.
    if (req.url.includes('%00')) throw new AppError('BAD_REQUEST', 'the URL contains a NUL character (%00)');
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
  // (A response sent before its request body was read in full closes the connection too:
  // protectConnections, in connections.ts.)
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
