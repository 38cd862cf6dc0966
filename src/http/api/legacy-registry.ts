import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Registry } from '../../db/index.js';
import { AppError } from '../../errors/index.js';
import type { TierSlug } from '../../registry/index.js';
import { issueDockerCredentials } from './docker-credentials.js';
import { presentRegistryWithSubscription } from './present.js';
import { credentialsQuery } from './registries.js';
import { defineRoute } from './route.js';
import { dockerCredentials, registryWithSubscription, tierSlug } from './schemas.js';

const TAG = 'Container Registry';
const LEGACY_REGIONS = ['nyc3', 'sfo3', 'ams3', 'sgp1', 'fra1'];

/** The team's only registry, as the single-registry API assumes; 412 when it has several. */
async function onlyRegistry(ctx: AppContext, teamId: string): Promise<Registry> {
  const registries = await ctx.registries.listForTeam(teamId);
  if (registries.length > 1) {
    throw new AppError(
      'PRECONDITION_FAILED',
      `This API is not supported if you have created multiple registries. Please use '/v2/registries/{registry_name}' instead. Your registries: ${registries.map((r) => r.name).join(', ')}`,
    );
  }
  if (registries.length === 0) throw new AppError('NOT_FOUND', 'no registry exists for this team yet');
  return registries[0]!;
}

/** The legacy single-registry API: `/v2/registry`, kept for doctl's `registry` commands. */
export function registerLegacyRegistryRoutes(app: FastifyInstance, ctx: AppContext): void {
  const registryBody = { type: 'object', properties: { registry: registryWithSubscription } } as const;

  defineRoute(app, ctx, {
    method: 'GET',
    url: '/v2/registry',
    operationId: 'registry_get',
    summary: 'Get Container Registry Information',
    tag: TAG,
    deprecated: true,
    scopes: ['registry:read'],
    success: { status: 200, description: 'The registry', schema: registryBody },
    extraErrors: [412],
    async handler({ ctx, team }) {
      return { registry: presentRegistryWithSubscription(await onlyRegistry(ctx, team.id), ctx.config.registryHost, team, ctx.subscriptions.tierOf(team)) };
    },
  });

  defineRoute<object, object, { name: string; subscription_tier_slug: TierSlug; region?: string }>(app, ctx, {
    method: 'POST',
    url: '/v2/registry',
    operationId: 'registry_create',
    summary: 'Create Container Registry',
    tag: TAG,
    deprecated: true,
    scopes: ['registry:create'],
    body: {
      type: 'object',
      required: ['name', 'subscription_tier_slug'],
      properties: { name: { type: 'string', maxLength: 63 }, subscription_tier_slug: tierSlug, region: { type: 'string', enum: LEGACY_REGIONS } },
    },
    success: { status: 201, description: 'The new registry', schema: registryBody },
    extraErrors: [409, 412, 422],
    async handler({ ctx, team, body }) {
      const registry = await ctx.registries.create(team.id, { name: body.name, region: body.region, tierSlug: body.subscription_tier_slug });
      const updated = (await ctx.teams.byId(team.id))!;
      return { registry: presentRegistryWithSubscription(registry, ctx.config.registryHost, updated, ctx.subscriptions.tierOf(updated)) };
    },
  });

  defineRoute(app, ctx, {
    method: 'DELETE',
    url: '/v2/registry',
    operationId: 'registry_delete',
    summary: 'Delete Container Registry',
    tag: TAG,
    deprecated: true,
    scopes: ['registry:delete'],
    success: { status: 204, description: 'Deleted' },
    extraErrors: [412],
    async handler({ ctx, team }) {
      const registry = await onlyRegistry(ctx, team.id);
      await ctx.registries.delete(team.id, registry.name);
    },
  });

  defineRoute<object, { read_write: boolean; expiry_seconds: number }>(app, ctx, {
    method: 'GET',
    url: '/v2/registry/docker-credentials',
    operationId: 'registry_get_dockerCredentials',
    summary: 'Get Docker Credentials for Container Registry',
    tag: TAG,
    deprecated: true,
    scopes: ['registry:read', 'registry:update'],
    querystring: credentialsQuery,
    success: { status: 200, description: "A Docker config.json for the team's registries", schema: dockerCredentials },
    async handler({ ctx, principal, query }) {
      // Team-wide, like DigitalOcean's account-level credential: valid for every registry of the team.
      return issueDockerCredentials(ctx, principal, principal.registryName, query.read_write, query.expiry_seconds);
    },
  });
}
