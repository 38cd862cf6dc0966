import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseScopeParams, type Principal } from '../../auth/index.js';
import type { AppContext } from '../../context.js';
import { readBody } from '../read-body.js';

/**
 * The Docker token endpoint. GET with Basic credentials (docker, podman, skopeo); POST with
 * the OAuth2 password or refresh_token grant (containerd, docker login's identity tokens).
 */
export function registerTokenRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get('/auth/token', async (req, reply) => {
    const query = new URLSearchParams((req.raw.url ?? '').split('?')[1] ?? '');
    const principal = await fromBasic(ctx, req);
    if (!principal) return refuse(reply, req.headers.authorization ? 'invalid username or password' : 'credentials are required');
    const issued = await ctx.registryTokens.issue(principal, parseScopeParams(query.getAll('scope')));
    const body: Record<string, unknown> = { token: issued.token, access_token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt };
    if (query.get('offline_token') === 'true') body.refresh_token = await ctx.registryTokens.issueRefreshToken(principal);
    return reply.status(200).send(body);
  });

  app.post('/auth/token', async (req, reply) => {
    const form = new URLSearchParams((await readBody(req.raw, 64 * 1024, 'BAD_REQUEST', 'the token request')).toString('utf8'));
    const grant = form.get('grant_type');
    let principal: Principal | undefined;
    if (grant === 'password') {
      principal = await ctx.credentials.authenticate(form.get('password') ?? '');
    } else if (grant === 'refresh_token') {
      const id = await ctx.registryTokens.verifyRefreshToken(form.get('refresh_token') ?? '');
      principal = id ? await ctx.credentials.byId(id) : undefined;
    } else {
      return reply.status(400).send({ error: 'unsupported_grant_type', error_description: `grant_type must be password or refresh_token, not "${grant ?? ''}"` });
    }
    if (!principal) return refuse(reply, grant === 'password' ? 'invalid username or password' : 'the refresh token is invalid, expired or revoked');
    const issued = await ctx.registryTokens.issue(principal, parseScopeParams(form.getAll('scope')));
    const body: Record<string, unknown> = {
      access_token: issued.token,
      token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt,
      scope: form.getAll('scope').join(' '),
    };
    if (form.get('access_type') === 'offline') body.refresh_token = grant === 'refresh_token' ? form.get('refresh_token') : await ctx.registryTokens.issueRefreshToken(principal);
    return reply.status(200).send(body);
  });
}

async function fromBasic(ctx: AppContext, req: FastifyRequest): Promise<Principal | undefined> {
  const header = req.headers.authorization;
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  return ctx.credentials.authenticate(decoded.slice(decoded.indexOf(':') + 1));
}

function refuse(reply: FastifyReply, message: string): FastifyReply {
  return reply
    .status(401)
    .header('WWW-Authenticate', 'Basic realm="berth"')
    .send({ errors: [{ code: 'UNAUTHORIZED', message }], error: 'invalid_grant', error_description: message });
}
