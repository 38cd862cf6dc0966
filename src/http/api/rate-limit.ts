import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MemoryRateLimiter, Principal, RateLimiter, RateLimitState } from '../../auth/index.js';
import { AppError } from '../../errors/index.js';

export interface ApiRateLimits {
  identified: RateLimiter;
  anonymous: MemoryRateLimiter;
}

const UNLIMITED = new Set(['/healthz', '/readyz', '/livez', '/openapi.json']);

/** Route config of operations that authenticate first and count the request afterwards. */
export const COUNTED_AFTER_AUTH = { rateLimit: 'after-auth' } as const;

/**
 * DigitalOcean's rate limits: `ratelimit-*` headers on every response (errors and 204s
 * included) and 429 `too_many_requests` with `retry-after` once a limit is spent.
 *
 * Requests are counted per identity, the API token that authenticated them, so any spelling
 * of the Authorization header counts against the same limit. Operations (`defineRoute`)
 * authenticate first and then call `countIdentified` or, when authentication failed,
 * `countAnonymous`. Everything else here (unknown paths, the revoke endpoint) has no
 * identity and is counted per client address in memory, as are failed authentications: none
 * of it writes to the database.
 */
export function registerRateLimit(app: FastifyInstance, limits: ApiRateLimits): void {
  app.addHook('onRequest', async (req, reply) => {
    const config = req.routeOptions.config as { rateLimit?: string; unlimited?: boolean } | undefined;
    // The web console's static files are not API calls (route config `unlimited`, src/http/ui.ts).
    if (UNLIMITED.has(req.url.split('?')[0]!) || config?.unlimited) return;
    if (config?.rateLimit === COUNTED_AFTER_AUTH.rateLimit) return;
    countAnonymous(limits, req, reply);
  });
}

export async function countIdentified(limits: ApiRateLimits, principal: Principal, reply: FastifyReply): Promise<void> {
  apply(await limits.identified.hit(`token:${principal.tokenId}`), reply);
}

export function countAnonymous(limits: ApiRateLimits, req: FastifyRequest, reply: FastifyReply): void {
  apply(limits.anonymous.hit(req.ip), reply);
}

function apply(state: RateLimitState, reply: FastifyReply): void {
  reply.header('ratelimit-limit', String(state.limit)).header('ratelimit-remaining', String(state.remaining)).header('ratelimit-reset', String(state.reset));
  if (state.retryAfter !== undefined) {
    throw new AppError('RATE_LIMITED', 'API rate limit exceeded.', { headers: { 'retry-after': String(state.retryAfter) } });
  }
}
