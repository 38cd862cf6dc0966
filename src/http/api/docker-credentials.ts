import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hasScope, type Principal } from '../../auth/index.js';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors/index.js';
import { apiPrincipal, requireScopes } from './auth.js';

/**
 *   GET /v2/registries/:name/docker-credentials   registry:read + registry:update
 *   GET /v2/registry/docker-credentials           registry:read + registry:update
 *
 * Each call issues a new credential (stored only as a hash) and returns it as a Docker
 * config.json keyed by the public registry host. Read-only unless `read_write=true`.
 */
export function registerDockerCredentialRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { name: string } }>('/v2/registries/:name/docker-credentials', async (req) => {
    const principal = await apiPrincipal(ctx, req);
    requireScopes(principal, 'registry:read', 'registry:update');
    const registry = await ctx.registries.getForTeam(principal.teamId, req.params.name);
    return issue(ctx, req, principal, registry.name);
  });

  app.get('/v2/registry/docker-credentials', async (req) => {
    const principal = await apiPrincipal(ctx, req);
    requireScopes(principal, 'registry:read', 'registry:update');
    return issue(ctx, req, principal, principal.registryName);
  });
}

async function issue(ctx: AppContext, req: FastifyRequest, principal: Principal, registryName: string | null) {
  const query = req.query as Record<string, string | undefined>;
  const readWrite = parseBoolean(query.read_write, 'read_write');
  const expirySeconds = parseExpiry(query.expiry_seconds);
  const scopes = ['registry:read'];
  if (readWrite) {
    scopes.push('registry:update');
    if (hasScope(principal, 'registry:delete')) scopes.push('registry:delete');
  }
  const issued = await ctx.credentials.issue({
    teamId: principal.teamId,
    kind: 'registry',
    scopes,
    registryName,
    expiresAt: expirySeconds > 0 ? Date.now() + expirySeconds * 1000 : null,
    description: readWrite ? 'docker credential (read/write)' : 'docker credential (read-only)',
  });
  const auth = Buffer.from(`${issued.secret}:${issued.secret}`).toString('base64');
  return { auths: { [ctx.config.registryHost]: { auth } } };
}

function parseBoolean(value: string | undefined, field: string): boolean {
  if (value === undefined || value === '') return false;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new AppError('BAD_REQUEST', `${field} must be true or false, not "${value}"`);
}

function parseExpiry(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d{1,10}$/.test(value)) throw new AppError('BAD_REQUEST', `expiry_seconds must be a non-negative integer, not "${value}"`);
  return Number(value);
}
