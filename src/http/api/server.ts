import type { FastifyError, FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { AppError, isAppError, toDoBody } from '../../errors/index.js';
import { createFastify } from '../fastify.js';
import type { Metrics } from '../metrics.js';
import { registerDockerCredentialRoutes } from './docker-credentials.js';
import { registerRegistryRoutes } from './registries.js';
import { registerRevokeRoute } from './revoke.js';

/** The API listener: DigitalOcean's registry API, health and metrics. */
export function createApiServer(ctx: AppContext, metrics: Metrics): FastifyInstance {
  const app = createFastify(ctx, 'api');

  // A body-less POST (dots' GC start) arrives with no content type; treat it as no body.
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  app.setErrorHandler((err: FastifyError | AppError, req, reply) => {
    let appError: AppError;
    if (isAppError(err)) appError = err;
    else if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') appError = new AppError('BAD_REQUEST', 'the request body is empty; send a JSON object');
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') appError = new AppError('BAD_REQUEST', 'the request body is too large');
    else if (typeof err.statusCode === 'number' && err.statusCode === 400) appError = new AppError('BAD_REQUEST', `error parsing request body: ${err.message}`);
    else if (typeof err.statusCode === 'number' && err.statusCode > 400 && err.statusCode < 500) appError = new AppError('BAD_REQUEST', err.message);
    else {
      req.log.error({ err }, 'unhandled error');
      appError = new AppError('INTERNAL');
    }
    reply.headers(appError.headers);
    return reply.status(appError.status).send(toDoBody(appError, req.id));
  });

  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(toDoBody(new AppError('NOT_FOUND'), req.id));
  });

  app.get('/healthz', async () => {
    await ctx.db.selectFrom('teams').select('id').limit(1).execute();
    return { status: 'ok' };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('Content-Type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  registerRegistryRoutes(app, ctx);
  registerDockerCredentialRoutes(app, ctx);
  registerRevokeRoute(app, ctx);
  return app;
}
