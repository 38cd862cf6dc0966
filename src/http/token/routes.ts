import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatScope, parseScopeParams, splitScopes, type AccessEntry, type Principal } from '../../auth/index.js';
import type { AppContext } from '../../context.js';
import { isAppError } from '../../errors/index.js';
import { readBody } from '../read-body.js';

/** A token request (query string or form body) is a few scopes and a password: 16 KiB is ample. */
export const MAX_TOKEN_REQUEST_BYTES = 16 * 1024;

/** A refusal in the token endpoint's shape: OCI `errors` for docker, OAuth2 `error` for containerd. */
class TokenRequestError extends Error {
  constructor(
    readonly status: number,
    readonly oauthError: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The Docker token endpoint. GET with Basic credentials (docker, podman, skopeo); POST with
 * the OAuth2 password or refresh_token grant (containerd, docker login's identity tokens).
 */
export function registerTokenRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get('/auth/token', async (req, reply) => {
    const raw = (req.raw.url ?? '').split('?')[1] ?? '';
    if (raw.length > MAX_TOKEN_REQUEST_BYTES) return tokenError(reply, new TokenRequestError(400, 'invalid_request', `the query string is ${raw.length} bytes; the limit is ${MAX_TOKEN_REQUEST_BYTES}`));
    const query = new URLSearchParams(raw);
    const requested = requestedScopes(ctx, query.getAll('scope'));
    if (requested instanceof TokenRequestError) return tokenError(reply, requested);
    const principal = await fromBasic(ctx, req);
    if (!principal) return refuse(reply, req.headers.authorization ? 'invalid username or password' : 'credentials are required');
    const issued = await ctx.registryTokens.issue(principal, requested);
    const body: Record<string, unknown> = { token: issued.token, access_token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt };
    if (query.get('offline_token') === 'true') body.refresh_token = await ctx.registryTokens.issueRefreshToken(principal);
    return reply.status(200).send(body);
  });

  app.post('/auth/token', async (req, reply) => {
    let form: URLSearchParams;
    try {
      form = new URLSearchParams((await readBody(req.raw, MAX_TOKEN_REQUEST_BYTES, 'PAYLOAD_TOO_LARGE', 'the token request')).toString('utf8'));
    } catch (err) {
      if (!isAppError(err)) throw err;
      return tokenError(reply, new TokenRequestError(err.status, 'invalid_request', err.message));
    }
    const requested = requestedScopes(ctx, form.getAll('scope'));
    if (requested instanceof TokenRequestError) return tokenError(reply, requested);
    const grant = form.get('grant_type');
    let principal: Principal | undefined;
    if (grant === 'password') {
      principal = await ctx.credentials.authenticate(form.get('password') ?? '');
    } else if (grant === 'refresh_token') {
      const id = await ctx.registryTokens.verifyRefreshToken(form.get('refresh_token') ?? '');
      principal = id ? await ctx.credentials.byId(id) : undefined;
    } else {
      return reply.status(400).send({ error: 'unsupported_grant_type', error_description: `grant_type must be password or refresh_token, not "${(grant ?? '').slice(0, 64)}"` });
    }
    if (!principal) return refuse(reply, grant === 'password' ? 'invalid username or password' : 'the refresh token is invalid, expired or revoked');
    const issued = await ctx.registryTokens.issue(principal, requested);
    const body: Record<string, unknown> = {
      access_token: issued.token,
      token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt,
      // What the token grants (OAuth2: the granted scope when it differs from the request).
      scope: issued.access.map(formatScope).join(' '),
    };
    if (form.get('access_type') === 'offline') body.refresh_token = grant === 'refresh_token' ? form.get('refresh_token') : await ctx.registryTokens.issueRefreshToken(principal);
    return reply.status(200).send(body);
  });
}

/**
 * The scopes asked for, at most `--max-token-scopes` of them. Each costs a registry lookup and
 * a JWT entry; real clients ask for one to three (a cross-repository mount asks for two), so a
 * request for hundreds is refused rather than answered with a huge token.
 */
function requestedScopes(ctx: AppContext, values: string[]): AccessEntry[] | TokenRequestError {
  const count = splitScopes(values).length;
  const max = ctx.config.maxTokenScopes;
  if (count > max) return new TokenRequestError(400, 'invalid_scope', `the request asks for ${count} scopes; at most ${max} are allowed in one token request`);
  return parseScopeParams(values);
}

async function fromBasic(ctx: AppContext, req: FastifyRequest): Promise<Principal | undefined> {
  const header = req.headers.authorization;
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  return ctx.credentials.authenticate(decoded.slice(decoded.indexOf(':') + 1));
}

function tokenError(reply: FastifyReply, err: TokenRequestError): FastifyReply {
  const code = err.status === 401 ? 'UNAUTHORIZED' : err.status === 413 ? 'SIZE_INVALID' : 'UNSUPPORTED';
  return reply.status(err.status).send({ errors: [{ code, message: err.message }], error: err.oauthError, error_description: err.message });
}

function refuse(reply: FastifyReply, message: string): FastifyReply {
  reply.header('WWW-Authenticate', 'Basic realm="berth"');
  return tokenError(reply, new TokenRequestError(401, 'invalid_grant', message));
}
