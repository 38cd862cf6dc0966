import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors/index.js';
import { isTierSlug, RegistryService, type TierSlug } from '../../registry/index.js';
import { apiPrincipal, requireScopes } from './auth.js';
import { presentRegistry, presentRegistryWithSubscription } from './present.js';

/**
 *   GET    /v2/registries                 registry:read
 *   POST   /v2/registries                 registry:create
 *   POST   /v2/registries/validate-name   registry:create
 *   GET    /v2/registries/:name           registry:read
 *   DELETE /v2/registries/:name           registry:delete
 */
export function registerRegistryRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get('/v2/registries', async (req) => {
    const principal = await apiPrincipal(ctx, req);
    requireScopes(principal, 'registry:read');
    const team = (await ctx.teams.byId(principal.teamId))!;
    const registries = await ctx.registries.listForTeam(principal.teamId);
    return {
      registries: registries.map((r) => presentRegistryWithSubscription(r, team)),
      total_storage_usage_bytes: registries.reduce((sum, r) => sum + r.storage_usage_bytes, 0),
    };
  });

  app.post('/v2/registries', async (req, reply) => {
    const principal = await apiPrincipal(ctx, req);
    requireScopes(principal, 'registry:create');
    const body = objectBody(req.body);
    const name = requiredString(body, 'name');
    const region = optionalString(body, 'region');
    const tier = optionalTier(body, 'subscription_tier_slug');
    const registry = await ctx.registries.create(principal.teamId, { name, region, tierSlug: tier });
    return reply.status(201).send({ registry: presentRegistry(registry) });
  });

  app.post('/v2/registries/validate-name', async (req, reply) => {
    const principal = await apiPrincipal(ctx, req);
    requireScopes(principal, 'registry:create');
    const name = requiredString(objectBody(req.body), 'name');
    RegistryService.checkName(name);
    if (await ctx.registries.isNameTaken(name)) throw new AppError('CONFLICT', `registry name "${name}" is already taken`);
    return reply.status(204).send();
  });

  app.get<{ Params: { name: string } }>('/v2/registries/:name', async (req) => {
    const principal = await apiPrincipal(ctx, req);
    requireScopes(principal, 'registry:read');
    return { registry: presentRegistry(await ctx.registries.getForTeam(principal.teamId, req.params.name)) };
  });

  app.delete<{ Params: { name: string } }>('/v2/registries/:name', async (req, reply) => {
    const principal = await apiPrincipal(ctx, req);
    requireScopes(principal, 'registry:delete');
    await ctx.registries.delete(principal.teamId, req.params.name);
    return reply.status(204).send();
  });
}

export function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new AppError('BAD_REQUEST', 'the request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

export function requiredString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (value === undefined || value === null) throw new AppError('UNPROCESSABLE', `${field} is required`);
  if (typeof value !== 'string') throw new AppError('UNPROCESSABLE', `${field} must be a string`);
  return value;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new AppError('UNPROCESSABLE', `${field} must be a string`);
  return value;
}

function optionalTier(body: Record<string, unknown>, field: string): TierSlug | undefined {
  const value = optionalString(body, field);
  if (value === undefined) return undefined;
  if (!isTierSlug(value)) throw new AppError('UNPROCESSABLE', `${field} must be one of starter, basic, professional`);
  return value;
}
