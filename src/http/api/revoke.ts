import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';

/**
 * `POST /v1/oauth/revoke` with form field `token`: what `doctl registry logout` calls (point its
 * --authorization-server-endpoint here). Like RFC 7009, unknown tokens are not an error.
 */
export function registerRevokeRoute(app: FastifyInstance, ctx: AppContext): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.post('/v1/oauth/revoke', async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const query = req.query as Record<string, unknown>;
    const token = typeof body.token === 'string' ? body.token : typeof query.token === 'string' ? query.token : '';
    if (token) await ctx.credentials.revoke(token);
    return reply.status(200).send({});
  });
}
