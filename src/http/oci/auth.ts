import type { FastifyRequest } from 'fastify';
import { formatScope, registryActionsOf, type Principal, type RegistryAction, type RegistryClaims } from '../../auth/index.js';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors/index.js';
import { publicOrigin } from '../forwarded.js';

/** Who is calling the registry and what they may do, resolved once per request. */
export interface RegistryCaller {
  teamId: string;
  /** The only registry a docker credential may touch; null for team-wide API tokens. */
  registryName: string | null;
  /** Throws 401 (with a challenge asking for the scope) or 403 when `action` is not allowed. */
  require(repository: string, action: RegistryAction): Promise<void>;
  /** True when allowed, without throwing (for optional paths like cross-repository mounts). */
  allows(repository: string, action: RegistryAction): Promise<boolean>;
  /** True when the token lacks the action but asking again might get it (not refused before). */
  mightGet(repository: string, action: RegistryAction): boolean;
  canListCatalog(): Promise<boolean>;
  /** Ids of the registries whose content the underlying credential may pull (for mounts without `from`). */
  pullableRegistryIds(): Promise<string[]>;
}

/** Registries a credential may pull from: its team's, or just the one it is bound to. */
async function pullableRegistries(ctx: AppContext, principal: Principal | undefined): Promise<string[]> {
  if (!principal || !registryActionsOf(principal).has('pull')) return [];
  const registries = await ctx.registries.listForTeam(principal.teamId);
  return registries.filter((r) => principal.registryName === null || r.name === principal.registryName).map((r) => r.id);
}

/** A quoted-string parameter value: quotes and backslashes escaped, control characters dropped. */
function quoted(value: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/[\x00-\x1f\x7f]/g, '').replace(/["\\]/g, '\\$&')}"`;
}

/**
 * `Bearer realm=…,service=…[,scope=…][,error=…]`, pointing clients at our token endpoint. The
 * realm comes from configuration (the public registry host, https when TLS is on) or from a
 * trusted proxy's X-Forwarded-Proto/-Host, never from the client's Host header.
 */
export function challenge(ctx: AppContext, req: FastifyRequest, scope?: string, error?: 'invalid_token' | 'insufficient_scope'): string {
  const realm = `${publicOrigin(ctx.config, req, ctx.config.registryHost)}/auth/token`;
  let value = `Bearer realm=${quoted(realm)},service=${quoted(ctx.registryTokens.service)}`;
  if (scope) value += `,scope=${quoted(scope)}`;
  if (error) value += `,error=${quoted(error)}`;
  return value;
}

function unauthorized(ctx: AppContext, req: FastifyRequest, message: string, scope?: string, error?: 'invalid_token' | 'insufficient_scope'): AppError {
  return new AppError('UNAUTHORIZED', message, { headers: { 'WWW-Authenticate': challenge(ctx, req, scope, error) } });
}

/**
 * Authenticates a registry request: a Bearer JWT from our token service (the normal path) or
 * Basic credentials sent directly (curl, simple scripts). `scopeHint` goes into the challenge
 * so clients ask for what this request needs.
 */
export async function authenticate(ctx: AppContext, req: FastifyRequest, scopeHint?: string): Promise<RegistryCaller> {
  const header = req.headers.authorization;
  if (!header) throw unauthorized(ctx, req, 'authentication required', scopeHint);
  const space = header.indexOf(' ');
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer') {
    const claims = await ctx.registryTokens.verify(value);
    if (!claims) throw unauthorized(ctx, req, 'the token is invalid or has expired', scopeHint, 'invalid_token');
    return fromClaims(ctx, req, claims);
  }
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const password = decoded.slice(decoded.indexOf(':') + 1);
    const principal = await ctx.credentials.authenticate(password);
    if (!principal) throw unauthorized(ctx, req, 'invalid username or password', scopeHint);
    return fromPrincipal(ctx, req, principal);
  }
  throw unauthorized(ctx, req, `unsupported authorization scheme "${scheme}"`, scopeHint);
}

function fromClaims(ctx: AppContext, req: FastifyRequest, claims: RegistryClaims): RegistryCaller {
  const granted = (repository: string, action: RegistryAction): boolean =>
    claims.access.some((a) => a.type === 'repository' && a.name === repository && (a.actions.includes(action) || a.actions.includes('*')));
  return {
    teamId: claims.team,
    registryName: claims.reg,
    async require(repository, action) {
      if (granted(repository, action)) return;
      const denied = claims.denied.find((d) => d.type === 'repository' && d.name === repository && d.actions.includes(action));
      if (denied) throw new AppError('DENIED', `${action} access to ${repository} is denied: ${denied.reason}`);
      const scope = formatScope({ type: 'repository', name: repository, actions: action === 'pull' ? ['pull'] : ['pull', action] });
      throw unauthorized(ctx, req, `the token does not grant ${action} access to ${repository}`, scope, 'insufficient_scope');
    },
    async allows(repository, action) {
      return granted(repository, action);
    },
    mightGet(repository, action) {
      return !granted(repository, action) && !claims.denied.some((d) => d.type === 'repository' && d.name === repository && d.actions.includes(action));
    },
    async canListCatalog() {
      return claims.access.some((a) => a.type === 'registry' && a.name === 'catalog');
    },
    // The JWT names only the scopes asked for; the credential behind it decides what else it could pull.
    pullableRegistryIds: async () => pullableRegistries(ctx, await ctx.credentials.byId(claims.sub)),
  };
}

function fromPrincipal(ctx: AppContext, req: FastifyRequest, principal: Principal): RegistryCaller {
  const decide = async (repository: string, action: RegistryAction) =>
    ctx.registryTokens.grant(principal, [{ type: 'repository', name: repository, actions: [action] }]);
  return {
    teamId: principal.teamId,
    registryName: principal.registryName,
    async require(repository, action) {
      const { access, denied } = await decide(repository, action);
      if (access.length > 0) return;
      const reason = denied[0]?.reason ?? 'not permitted';
      throw new AppError('DENIED', `${action} access to ${repository} is denied: ${reason}`);
    },
    async allows(repository, action) {
      return (await decide(repository, action)).access.length > 0;
    },
    // Basic credentials are judged on the spot; there is nothing more to ask for.
    mightGet: () => false,
    async canListCatalog() {
      const { access } = await ctx.registryTokens.grant(principal, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
      return access.length > 0;
    },
    pullableRegistryIds: async () => pullableRegistries(ctx, principal),
  };
}
