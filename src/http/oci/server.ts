import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import { AppError, isAppError, toOciBody } from '../../errors/index.js';
import { createFastify } from '../fastify.js';
import { registerHealthRoutes } from '../health.js';
import { instrumentHttp } from '../metrics.js';
import { registerTokenRoutes } from '../token/routes.js';
import { authenticate } from './auth.js';
import { catalog } from './catalog.js';
import { dispatch } from './dispatch.js';

const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'] as const;

/** The registry listener: OCI Distribution v1.1 under /v2 and the token service. */
export function createRegistryServer(ctx: AppContext): FastifyInstance {
  const app = createFastify(ctx, 'registry');
  instrumentHttp(app, 'registry', ctx.metrics);

  // Bodies are streamed by the handlers themselves (blobs) or read with a limit (manifests).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  app.addHook('onRequest', async (_req, reply) => {
    reply.header('Docker-Distribution-API-Version', 'registry/2.0');
  });

  app.setErrorHandler((err: FastifyError | AppError, req, reply) => {
    let appError: AppError;
    if (isAppError(err)) {
      appError = err;
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      appError = new AppError(err.statusCode === 413 ? 'SIZE_INVALID' : 'UNSUPPORTED', err.message);
    } else {
      req.log.error({ err }, 'unhandled error');
      appError = new AppError('INTERNAL', 'internal server error');
    }
    if (appError.status >= 500) req.log.error({ err }, 'request failed');
    const status = isAppError(err) ? appError.status : (err.statusCode ?? appError.status);
    reply.headers(appError.headers);
    reply.removeHeader('Content-Length');
    return reply.status(status).header('Content-Type', 'application/json; charset=utf-8').send(toOciBody(appError));
  });

  app.setNotFoundHandler((req, reply) => {
    reply.status(404).header('Content-Type', 'application/json; charset=utf-8').send({ errors: [{ code: 'NOT_FOUND', message: `no such endpoint: ${req.method} ${req.url.split('?')[0]}` }] });
  });

  const base = async (req: FastifyRequest, reply: FastifyReply) => {
    await authenticate(ctx, req);
    return reply.status(200).header('Content-Type', 'application/json').send(req.method === 'HEAD' ? undefined : '{}');
  };
  app.route({ method: ['GET', 'HEAD'], url: '/v2/', handler: base });
  app.route({ method: ['GET', 'HEAD'], url: '/v2', handler: base });
  // Handlers that stream must hand the reply back, or Fastify finishes it with an empty body.
  app.get('/v2/_catalog', async (req, reply) => {
    await catalog(ctx, req, reply);
    return reply;
  });
  app.route({
    method: [...METHODS],
    url: '/v2/*',
    handler: async (req, reply) => {
      await dispatch(ctx, req, reply);
      return reply;
    },
  });
  registerTokenRoutes(app, ctx);
  registerHealthRoutes(app, ctx.health);
  return app;
}
