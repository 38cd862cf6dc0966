import swagger from '@fastify/swagger';
import type { FastifyError, FastifyInstance } from 'fastify';
import { RateLimiter } from '../../auth/index.js';
import type { AppContext } from '../../context.js';
import { AppError, isAppError, toDoBody, type ErrorCode } from '../../errors/index.js';
import { createFastify } from '../fastify.js';
import { registerHealthRoutes } from '../health.js';
import { instrumentHttp } from '../metrics.js';
import { registerGarbageCollectionRoutes } from './garbage-collection.js';
import { registerLegacyRegistryRoutes } from './legacy-registry.js';
import { registerRateLimit } from './rate-limit.js';
import { registerRegistryRoutes } from './registries.js';
import { registerRepositoryRoutes } from './repositories.js';
import { registerRevokeRoute } from './revoke.js';
import { errorBody } from './schemas.js';
import { registerSubscriptionRoutes } from './subscription.js';

export interface ApiServerHooks {
  /** Called when a garbage collection run was requested or cancelled, so the worker acts at once. */
  gcChanged?: () => void;
}

/**
 * The API listener: DigitalOcean's registry API, health and its OpenAPI description. Metrics
 * are not served here (anyone who reaches the API would read them) but on --metrics-listen.
 */
export function createApiServer(ctx: AppContext, hooks: ApiServerHooks = {}): FastifyInstance {
  const app = createFastify(ctx, 'api');
  instrumentHttp(app, 'api', ctx.metrics);

  // A body-less POST (dots' GC start) arrives with no content type; treat it as no body.
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
  app.setErrorHandler((err: FastifyError | AppError, req, reply) => {
    const appError = toAppError(err);
    if (appError.code === 'INTERNAL') req.log.error({ err }, 'unhandled error');
    reply.headers(appError.headers);
    return reply.status(appError.status).send(toDoBody(appError, req.id));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(toDoBody(new AppError('NOT_FOUND'), req.id));
  });
  app.addSchema(errorBody);
  registerRateLimit(app, new RateLimiter(ctx.db, ctx.config.rateLimitPerHour, ctx.config.rateLimitPerMinute));

  void app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Berth — DigitalOcean Container Registry API', version: '2.0' },
      servers: [{ url: ctx.config.apiUrl }],
      components: { securitySchemes: { bearer_auth: { type: 'http', scheme: 'bearer' } } },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  void app.register(async (api) => {
    registerRegistryRoutes(api, ctx);
    registerLegacyRegistryRoutes(api, ctx);
    registerSubscriptionRoutes(api, ctx);
    registerRepositoryRoutes(api, ctx);
    registerGarbageCollectionRoutes(api, ctx, hooks.gcChanged ?? (() => undefined));
    registerRevokeRoute(api, ctx);
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  registerHealthRoutes(app, ctx.health);
  return app;
}

/** One mapping from anything thrown to DigitalOcean's error vocabulary. */
function toAppError(err: FastifyError | AppError): AppError {
  if (isAppError(err)) return err;
  if (err.validation) {
    const first = err.validation[0]!;
    const params = first.params as { missingProperty?: string; allowedValues?: unknown[] };
    const field = params.missingProperty ?? (first.instancePath.replace(/^\//, '').replaceAll('/', '.') || err.validationContext || 'request');
    const detail = params.allowedValues ? `must be one of ${params.allowedValues.join(', ')}` : params.missingProperty ? 'is required' : (first.message ?? 'is invalid');
    // A body that is not even an object is unreadable (400); a bad field in it is unprocessable (422).
    const fieldLevel = err.validationContext === 'body' && (first.instancePath !== '' || params.missingProperty !== undefined);
    const code: ErrorCode = fieldLevel ? 'UNPROCESSABLE' : 'BAD_REQUEST';
    return new AppError(code, `${field}: ${detail}`);
  }
  if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new AppError('BAD_REQUEST', 'the request body is empty; send a JSON object');
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new AppError('BAD_REQUEST', 'the request body is too large');
  if (err.statusCode === 400) return new AppError('BAD_REQUEST', `error parsing request body: ${err.message}`);
  if (err.statusCode === 415) return new AppError('BAD_REQUEST', `unsupported content type: ${err.message}`);
  if (typeof err.statusCode === 'number' && err.statusCode > 400 && err.statusCode < 500) return new AppError('BAD_REQUEST', err.message);
  return new AppError('INTERNAL');
}
