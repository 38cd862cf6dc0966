import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors/index.js';
import { RegistryService, type TierSlug } from '../../registry/index.js';
import { issueDockerCredentials } from './docker-credentials.js';
import { defineRoute } from './route.js';
import { dockerCredentials, multiregistry, registryNameParam, registryWithSubscription, tierSlug } from './schemas.js';
import { presentRegistry, presentRegistryWithSubscription } from './present.js';

const TAG = 'Container Registries';
const MULTI_REGIONS = ['nyc3', 'sfo3', 'sfo2', 'ams3', 'sgp1', 'fra1', 'blr1', 'syd1'];
const nameBody = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 63 } } } as const;
const credentialsQuery = {
  type: 'object',
  properties: { read_write: { type: 'boolean', default: false }, expiry_seconds: { type: 'integer', minimum: 0, maximum: 3_153_600_000, default: 0 } },
} as const;

/** The multi-registry API: `/v2/registries…`. */
export function registerRegistryRoutes(app: FastifyInstance, ctx: AppContext): void {
  defineRoute(app, ctx, {
    method: 'GET',
    url: '/v2/registries',
    operationId: 'registries_list',
    summary: 'List All Container Registries',
    tag: TAG,
    scopes: ['registry:read'],
    success: {
      status: 200,
      description: 'The registries of the team',
      schema: { type: 'object', properties: { registries: { type: 'array', items: registryWithSubscription }, total_storage_usage_bytes: { type: 'integer' } } },
    },
    async handler({ ctx, team }) {
      const registries = await ctx.registries.listForTeam(team.id);
      const tier = ctx.subscriptions.tierOf(team);
      return {
        registries: registries.map((r) => presentRegistryWithSubscription(r, ctx.config.registryHost, team, tier)),
        total_storage_usage_bytes: registries.reduce((sum, r) => sum + r.storage_usage_bytes, 0),
      };
    },
  });

  defineRoute<object, object, { name: string; region?: string; subscription_tier_slug?: TierSlug }>(app, ctx, {
    method: 'POST',
    url: '/v2/registries',
    operationId: 'registries_create',
    summary: 'Create Container Registry',
    tag: TAG,
    scopes: ['registry:create'],
    body: {
      type: 'object',
      required: ['name'],
      properties: { name: { type: 'string', maxLength: 63 }, subscription_tier_slug: tierSlug, region: { type: 'string', enum: MULTI_REGIONS } },
    },
    success: { status: 201, description: 'The new registry', schema: { type: 'object', properties: { registry: multiregistry } } },
    extraErrors: [409, 412, 422],
    async handler({ ctx, team, body }) {
      const registry = await ctx.registries.create(team.id, { name: body.name, region: body.region, tierSlug: body.subscription_tier_slug });
      return { registry: presentRegistry(registry, ctx.config.registryHost) };
    },
  });

  defineRoute<{ registry_name: string }>(app, ctx, {
    method: 'GET',
    url: '/v2/registries/:registry_name',
    operationId: 'registries_get',
    summary: 'Get a Container Registry By Name',
    tag: TAG,
    scopes: ['registry:read'],
    params: registryNameParam,
    success: { status: 200, description: 'The registry', schema: { type: 'object', properties: { registry: multiregistry } } },
    async handler({ ctx, registry, params }) {
      return { registry: presentRegistry(await registry(params.registry_name), ctx.config.registryHost) };
    },
  });

  defineRoute<{ registry_name: string }>(app, ctx, {
    method: 'DELETE',
    url: '/v2/registries/:registry_name',
    operationId: 'registries_delete',
    summary: 'Delete Container Registry By Name',
    tag: TAG,
    scopes: ['registry:delete'],
    params: registryNameParam,
    success: { status: 204, description: 'Deleted' },
    async handler({ ctx, team, params }) {
      await ctx.registries.delete(team.id, params.registry_name);
    },
  });

  defineRoute<{ registry_name: string }, { read_write: boolean; expiry_seconds: number }>(app, ctx, {
    method: 'GET',
    url: '/v2/registries/:registry_name/docker-credentials',
    operationId: 'registries_get_dockerCredentials',
    summary: 'Get Docker Credentials By Registry Name',
    tag: TAG,
    scopes: ['registry:read', 'registry:update'],
    params: registryNameParam,
    querystring: credentialsQuery,
    success: { status: 200, description: 'A Docker config.json for the registry', schema: dockerCredentials },
    async handler({ ctx, principal, registry, params, query }) {
      const target = await registry(params.registry_name);
      return issueDockerCredentials(ctx, principal, target.name, query.read_write, query.expiry_seconds);
    },
  });
}

export async function assertNameAvailable(ctx: AppContext, name: string): Promise<void> {
  RegistryService.checkName(name);
  if (await ctx.registries.isNameTaken(name)) throw new AppError('CONFLICT', `registry name "${name}" is already taken`);
}

export { credentialsQuery, nameBody };
