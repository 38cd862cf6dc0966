import type { FastifyRequest } from 'fastify';
import { hasScope, type ApiScope, type Principal } from '../../auth/index.js';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors/index.js';

/** Bearer API token → principal; docker credentials are registry passwords, not API tokens. */
export async function apiPrincipal(ctx: AppContext, req: FastifyRequest): Promise<Principal> {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) throw new AppError('API_UNAUTHORIZED', 'Unable to authenticate you: send "Authorization: Bearer <token>".');
  const principal = await ctx.credentials.authenticate(match[1]!);
  if (!principal || principal.kind !== 'api') throw new AppError('API_UNAUTHORIZED', 'Unable to authenticate you: the token is invalid, expired or revoked.');
  return principal;
}

export function requireScopes(principal: Principal, ...scopes: ApiScope[]): void {
  const missing = scopes.filter((s) => !hasScope(principal, s));
  if (missing.length > 0) throw new AppError('FORBIDDEN', `You do not have access for the attempted action: this token lacks the ${missing.join(' and ')} scope.`);
}
