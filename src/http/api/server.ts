import swagger from '@fastify/swagger';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { AppError, toDoBody, type ErrorCode } from '../../errors/index.js';
import { capEcho, truncate } from '../error-replies.js';
import { createFastify } from '../fastify.js';
import { registerHealthRoutes } from '../health.js';
import { instrumentHttp } from '../metrics.js';
import { registerConsole } from '../ui.js';
import { registerGarbageCollectionRoutes } from './garbage-collection.js';
import { registerLegacyRegistryRoutes } from './legacy-registry.js';
import { registerRateLimit } from './rate-limit.js';
import { registerRegistryRoutes } from './registries.js';
import { registerRepositoryRoutes } from './repositories.js';
import { registerRevokeRoute } from './revoke.js';
import { acceptBodylessJson } from './json-body.js';
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
  const app = createFastify(ctx, 'api', {
    body: (err, requestId) => capEcho(toDoBody(err, requestId)),
    translate: fromValidation,
    notFound: () => new AppError('NOT_FOUND'),
  });
  instrumentHttp(app, 'api', ctx.metrics);
  acceptBodylessJson(app);
  app.addSchema(errorBody);
  registerRateLimit(app, ctx.rateLimits);

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
  if (ctx.config.ui) registerConsole(app, app.log);

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  registerHealthRoutes(app, ctx.health);
  return app;
}

/** Schema validation failures as DigitalOcean reports them: 400, or 422 naming a bad body field. */
function fromValidation(err: FastifyError): AppError | undefined {
  if (!err.validation) return undefined;
  const first = err.validation[0]!;
  const params = first.params as { missingProperty?: string; allowedValues?: unknown[] };
  const field = params.missingProperty ?? (first.instancePath.replace(/^\//, '').replaceAll('/', '.') || err.validationContext || 'request');
  const detail = params.allowedValues ? `must be one of ${params.allowedValues.join(', ')}` : params.missingProperty ? 'is required' : (first.message ?? 'is invalid');
  // A body that is not even an object is unreadable (400); a bad field in it is unprocessable (422).
  const fieldLevel = err.validationContext === 'body' && (first.instancePath !== '' || params.missingProperty !== undefined);
  const code: ErrorCode = fieldLevel ? 'UNPROCESSABLE' : 'BAD_REQUEST';
  return new AppError(code, truncate(`${field}: ${detail}`));
}
