import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RateLimiter } from '../../auth/index.js';
import { AppError } from '../../errors/index.js';

const UNLIMITED = new Set(['/healthz', '/metrics', '/openapi.json']);

/** Counts by token (hashed: the secret never reaches the table), or by address without one. */
function keyOf(req: FastifyRequest): string {
  const header = req.headers.authorization;
  if (header) return `t:${createHash('sha256').update(header).digest('hex').slice(0, 32)}`;
  return `ip:${req.ip}`;
}

/**
 * DigitalOcean's rate limits: `ratelimit-*` headers on every response (errors and 204s
 * included) and 429 `too_many_requests` with `retry-after` once a window is spent.
 */
export function registerRateLimit(app: FastifyInstance, limiter: RateLimiter): void {
  app.addHook('onRequest', async (req, reply) => {
    // The web console's static files are not API calls (route config `unlimited`, src/http/ui.ts).
    if (UNLIMITED.has(req.url.split('?')[0]!) || (req.routeOptions.config as { unlimited?: boolean } | undefined)?.unlimited) return;
    const state = await limiter.hit(keyOf(req));
    reply.header('ratelimit-limit', String(state.limit)).header('ratelimit-remaining', String(state.remaining)).header('ratelimit-reset', String(state.reset));
    if (state.retryAfter !== undefined) {
      throw new AppError('RATE_LIMITED', 'API rate limit exceeded.', { headers: { 'retry-after': String(state.retryAfter) } });
    }
  });
}
