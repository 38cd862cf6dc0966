import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import { AppError, toOciBody } from '../../errors/index.js';
import { capEcho, truncate } from '../error-replies.js';
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
  const app = createFastify(ctx, 'registry', {
    body: (err) => capEcho(toOciBody(err)),
    headers: { 'Docker-Distribution-API-Version': 'registry/2.0' },
    notFound: (req) => new AppError('NOT_FOUND', `no such endpoint: ${req.method} ${truncate(req.url.split('?')[0]!)}`),
  });
  instrumentHttp(app, 'registry', ctx.metrics);

  // Bodies are streamed by the handlers themselves (blobs) or read with a limit (manifests).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  app.addHook('onRequest', async (_req, reply) => {
    reply.header('Docker-Distribution-API-Version', 'registry/2.0');
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
