/**
 * The registry listener's auth: the Bearer challenge, the Docker token endpoint (GET with
 * Basic, POST with the OAuth2 password and refresh_token grants), what a JWT grants (exactly
 * the intersection of what was asked and what the credential allows), JWTs and credentials
 * that must not work, Basic auth sent directly, write-token lifetimes and the catalog.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, pushImage, REGISTRY_HOST, startHarness, type Harness } from '../harness.js';

interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

interface Claims {
  iss: string;
  aud: string | string[];
  sub: string;
  exp: number;
  iat: number;
  access: AccessEntry[];
}

interface TokenBody {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  refresh_token?: string;
}

interface OciErrors {
  errors: { code: string; message: string }[];
}

function claimsOf(jwt: string): Claims {
  const payload = jwt.split('.')[1]!;
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Claims;
}

/** Access entries in a stable order (actions sorted too) so comparisons ignore ordering. */
function normalized(access: AccessEntry[]): AccessEntry[] {
  return access
    .map((a) => ({ type: a.type, name: a.name, actions: [...a.actions].sort() }))
    .sort((a, b) => `${a.type}:${a.name}`.localeCompare(`${b.type}:${b.name}`));
}

function basicHeader(password: string, username = 'berth-user'): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

async function ociCode(res: Response): Promise<string> {
  return ((await res.json()) as OciErrors).errors[0]!.code;
}

async function ociError(res: Response): Promise<{ code: string; message: string }> {
  return ((await res.json()) as OciErrors).errors[0]!;
}

let h: Harness;
let teamId: string;
let otherTeamToken: string;
let image: { manifest: string; config: string; layer: string };

/** GET /auth/token with Basic credentials (or none) and the given scopes. */
function getToken(password: string | undefined, scopes: string[], extra: Record<string, string> = {}): Promise<Response> {
  const query = new URLSearchParams({ service: REGISTRY_HOST, ...extra });
  for (const s of scopes) query.append('scope', s);
  const headers: Record<string, string> = password === undefined ? {} : { authorization: basicHeader(password) };
  return h.registry(`/auth/token?${query}`, { headers });
}

async function tokenBody(password: string, ...scopes: string[]): Promise<TokenBody> {
  const res = await getToken(password, scopes);
  expect(res.status, `token for ${scopes.join(' ')}`).toBe(200);
  return (await res.json()) as TokenBody;
}

/** POST /auth/token with a form body. */
function postToken(form: Record<string, string | string[]>): Promise<Response> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) for (const value of Array.isArray(v) ? v : [v]) body.append(k, value);
  return h.registry('/auth/token', { method: 'POST', body: body.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
}

function startUpload(name: string, auth: string | { basic: string }): Promise<Response> {
  return h.registry(`/v2/${name}/blobs/uploads/`, { method: 'POST', auth });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

beforeAll(async () => {
  h = await startHarness();
  teamId = (await h.ctx.teams.byName('default'))!.id;
  await h.createRegistry('auth');
  await h.createRegistry('auth-two');
  otherTeamToken = await h.newTeam('auth-other-team');
  await h.createRegistry('elsewhere', otherTeamToken);

  const full = await h.jwt(h.token, 'repository:auth/app:pull,push', 'repository:auth/lib:pull,push', 'repository:auth-two/x:pull,push');
  image = await pushImage(h, full, 'auth/app', 'v1');
  await pushImage(h, full, 'auth/lib', 'v1');
  await pushImage(h, full, 'auth-two/x', 'v1');
  const other = await h.jwt(otherTeamToken, 'repository:elsewhere/app:pull,push');
  await pushImage(h, other, 'elsewhere/app', 'v1');
});
afterAll(() => h?.close());

describe('the challenge', () => {
  it('GET /v2/ without credentials is 401 with a Bearer challenge naming realm and service', async () => {
    const res = await h.registry('/v2/');
    expect(res.status).toBe(401);
    // The realm is the configured public registry host (--registry-host), never the Host header.
    expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="http://${REGISTRY_HOST}/auth/token",service="${REGISTRY_HOST}"`);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(await ociCode(res)).toBe('UNAUTHORIZED');
  });

  it('a pull request is challenged with scope repository:<name>:pull', async () => {
    const host = REGISTRY_HOST;
    for (const [method, path] of [
      ['GET', '/v2/auth/app/manifests/v1'],
      ['HEAD', `/v2/auth/app/blobs/${image.layer}`],
      ['GET', '/v2/auth/app/tags/list'],
    ] as const) {
      const res = await h.registry(path, { method });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(
        `Bearer realm="http://${host}/auth/token",service="${REGISTRY_HOST}",scope="repository:auth/app:pull"`,
      );
    }
  });

  it('a push request is challenged with scope repository:<name>:pull,push', async () => {
    const host = REGISTRY_HOST;
    const post = await h.registry('/v2/auth/app/blobs/uploads/', { method: 'POST' });
    expect(post.status).toBe(401);
    expect(post.headers.get('www-authenticate')).toBe(
      `Bearer realm="http://${host}/auth/token",service="${REGISTRY_HOST}",scope="repository:auth/app:pull,push"`,
    );
    const put = await h.registry('/v2/auth/app/manifests/v2', { method: 'PUT', body: '{}' });
    expect(put.status).toBe(401);
    expect(put.headers.get('www-authenticate')).toContain(',scope="repository:auth/app:pull,push"');
  });

  it('the realm ignores the Host header the client sent', async () => {
    // fetch() will not send a Host header of our choosing; node:http will.
    const { port } = new URL(h.registryUrl);
    const res = await new Promise<{ status: number; challenge: string | undefined }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/v2/', headers: { host: 'registry.example.net:5443' } }, (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode!, challenge: response.headers['www-authenticate'] }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(401);
    expect(res.challenge).toBe(`Bearer realm="http://${REGISTRY_HOST}/auth/token",service="${REGISTRY_HOST}"`);
  });
});

describe('GET /auth/token', () => {
  it('returns token, access_token, expires_in and issued_at for an API token', async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await getToken(h.token, ['repository:auth/app:pull,push']);
    expect(res.status).toBe(200);
    const body = (await res.json()) as TokenBody;
    expect(typeof body.token).toBe('string');
    expect(body.access_token).toBe(body.token);
    expect(Number.isInteger(body.expires_in)).toBe(true);
    expect(body.expires_in).toBeGreaterThan(0);
    expect(new Date(body.issued_at).toISOString()).toBe(body.issued_at);
    expect(body.refresh_token).toBeUndefined();
    const claims = claimsOf(body.token);
    expect(claims.aud === REGISTRY_HOST || (Array.isArray(claims.aud) && claims.aud.includes(REGISTRY_HOST))).toBe(true);
    expect(claims.exp - claims.iat).toBe(body.expires_in);
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(normalized(claims.access)).toEqual([{ type: 'repository', name: 'auth/app', actions: ['pull', 'push'] }]);
  });

  it('grants exactly the intersection of the requested scopes and what the credential allows', async () => {
    // A full-access API token: everything asked for in its team's registries, nothing elsewhere.
    const full = claimsOf(
      (
        await tokenBody(
          h.token,
          'repository:auth/app:pull,push',
          'repository:auth/app:delete',
          'repository:auth-two/x:pull',
          'repository:elsewhere/app:pull,push',
          'repository:nosuchregistry/app:pull',
          'registry:catalog:*',
        )
      ).token,
    );
    expect(normalized(full.access)).toEqual([
      { type: 'registry', name: 'catalog', actions: ['*'] },
      { type: 'repository', name: 'auth-two/x', actions: ['pull'] },
      { type: 'repository', name: 'auth/app', actions: ['delete', 'pull', 'push'] },
    ]);

    // A read-only docker credential bound to registry "auth": pull there, nothing more.
    const readOnly = await h.dockerPassword('auth');
    const ro = claimsOf((await tokenBody(readOnly, 'repository:auth/app:pull,push,delete', 'repository:auth-two/x:pull')).token);
    expect(normalized(ro.access)).toEqual([{ type: 'repository', name: 'auth/app', actions: ['pull'] }]);

    // A read-write docker credential made with a full-access token: pull, push and delete (the
    // token's delete scope is passed on), and still only in its own registry.
    const readWrite = await h.dockerPassword('auth', { readWrite: true });
    const rw = claimsOf((await tokenBody(readWrite, 'repository:auth/app:*', 'repository:auth-two/x:pull')).token);
    expect(normalized(rw.access)).toEqual([{ type: 'repository', name: 'auth/app', actions: ['delete', 'pull', 'push'] }]);

    // An API token with only registry:read.
    const reader = await h.ctx.credentials.issue({ teamId, kind: 'api', scopes: ['registry:read'] });
    const rd = claimsOf((await tokenBody(reader.secret, 'repository:auth/app:pull,push,delete', 'repository:auth-two/x:push')).token);
    expect(normalized(rd.access)).toEqual([{ type: 'repository', name: 'auth/app', actions: ['pull'] }]);
  });

  it('unknown actions and malformed scopes grant nothing; no scope gives an empty access list', async () => {
    const odd = claimsOf((await tokenBody(h.token, 'repository:auth/app:pull,frobnicate', 'garbage', 'repository:auth/lib:')).token);
    expect(normalized(odd.access)).toEqual([{ type: 'repository', name: 'auth/app', actions: ['pull'] }]);
    const none = claimsOf((await tokenBody(h.token)).token);
    expect(none.access).toEqual([]);
  });

  it('offline_token=true adds a refresh_token', async () => {
    const res = await getToken(h.token, ['repository:auth/app:pull'], { offline_token: 'true' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as TokenBody;
    expect(typeof body.refresh_token).toBe('string');
    const refreshed = await postToken({ grant_type: 'refresh_token', refresh_token: body.refresh_token!, service: REGISTRY_HOST, scope: 'repository:auth/app:pull' });
    expect(refreshed.status).toBe(200);
  });

  it('bad Basic credentials are 401', async () => {
    const wellFormed = `dop_v1_${randomBytes(32).toString('hex')}`;
    for (const password of [wellFormed, 'not-a-token', '', h.token.slice(0, -1)]) {
      const res = await getToken(password, ['repository:auth/app:pull']);
      expect(res.status, `password ${JSON.stringify(password)}`).toBe(401);
      const body = (await res.json()) as { errors: { code: string }[] };
      expect(body.errors[0]!.code).toBe('UNAUTHORIZED');
    }
    const none = await getToken(undefined, ['repository:auth/app:pull']);
    expect(none.status).toBe(401);
    const bearer = await h.registry(`/auth/token?service=${REGISTRY_HOST}`, { headers: { authorization: `Bearer ${h.token}` } });
    expect(bearer.status).toBe(401);
  });
});

describe('POST /auth/token (OAuth2)', () => {
  it('grant_type=password returns an access token with the granted scopes', async () => {
    const res = await postToken({
      grant_type: 'password',
      username: 'anyone',
      password: h.token,
      service: REGISTRY_HOST,
      client_id: 'berth-tests',
      scope: ['repository:auth/app:pull,push', 'repository:elsewhere/app:pull'],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as TokenBody;
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBeGreaterThan(0);
    expect(body.refresh_token).toBeUndefined();
    expect(normalized(claimsOf(body.access_token).access)).toEqual([{ type: 'repository', name: 'auth/app', actions: ['pull', 'push'] }]);
    const tags = await h.registry('/v2/auth/app/tags/list', { auth: body.access_token });
    expect(tags.status).toBe(200);
  });

  it('access_type=offline yields a refresh_token that the refresh_token grant accepts', async () => {
    const first = await postToken({ grant_type: 'password', username: 'u', password: h.token, service: REGISTRY_HOST, access_type: 'offline', scope: 'repository:auth/app:pull' });
    expect(first.status).toBe(200);
    const { refresh_token } = (await first.json()) as TokenBody;
    expect(typeof refresh_token).toBe('string');

    const second = await postToken({ grant_type: 'refresh_token', refresh_token: refresh_token!, service: REGISTRY_HOST, scope: 'repository:auth/lib:pull,push' });
    expect(second.status).toBe(200);
    const body = (await second.json()) as TokenBody;
    expect(normalized(claimsOf(body.access_token).access)).toEqual([{ type: 'repository', name: 'auth/lib', actions: ['pull', 'push'] }]);
    const tags = await h.registry('/v2/auth/lib/tags/list', { auth: body.access_token });
    expect(tags.status).toBe(200);
  });

  it('a refresh token is not an access token, and an access token is not a refresh token', async () => {
    const first = await postToken({ grant_type: 'password', username: 'u', password: h.token, service: REGISTRY_HOST, access_type: 'offline', scope: 'repository:auth/app:pull' });
    const body = (await first.json()) as TokenBody;
    const asBearer = await h.registry('/v2/auth/app/tags/list', { auth: body.refresh_token! });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const asRefresh = await postToken({ grant_type: 'refresh_token', refresh_token: body.access_token, service: REGISTRY_HOST });
    expect(asRefresh.status).toBe(401);
  });

  it('a wrong password or a forged refresh token is 401; an unknown grant type is 400', async () => {
    const wrong = await postToken({ grant_type: 'password', username: 'u', password: `dop_v1_${'0'.repeat(64)}`, service: REGISTRY_HOST });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: string }).error).toBe('invalid_grant');
    const forged = await postToken({ grant_type: 'refresh_token', refresh_token: 'eyJhbGciOiJub25lIn0.e30.', service: REGISTRY_HOST });
    expect(forged.status).toBe(401);
    const unknown = await postToken({ grant_type: 'client_credentials', service: REGISTRY_HOST });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: string }).error).toBe('unsupported_grant_type');
  });
});

describe('JWTs that must not work', () => {
  it('a JWT with a flipped signature character is 401 invalid_token', async () => {
    const jwt = await h.jwt(h.token, 'repository:auth/app:pull');
    const [header, payload, signature] = jwt.split('.') as [string, string, string];
    const i = Math.floor(signature.length / 2);
    const flipped = `${signature.slice(0, i)}${signature[i] === 'A' ? 'B' : 'A'}${signature.slice(i + 1)}`;
    const res = await h.registry('/v2/auth/app/tags/list', { auth: `${header}.${payload}.${flipped}` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(res.headers.get('www-authenticate')).toContain('scope="repository:auth/app:pull"');
    expect(await ociCode(res)).toBe('UNAUTHORIZED');
    // The genuine token still works.
    expect((await h.registry('/v2/auth/app/tags/list', { auth: jwt })).status).toBe(200);
  });

  it('a JWT whose payload was edited (to grant more) is 401 invalid_token', async () => {
    const jwt = await h.jwt(h.token, 'repository:auth/app:pull');
    const [header, payload, signature] = jwt.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Claims;
    claims.access = [{ type: 'repository', name: 'auth/app', actions: ['pull', 'push', 'delete'] }];
    const edited = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const res = await startUpload('auth/app', `${header}.${edited}.${signature}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    // Also on the base endpoint.
    const base = await h.registry('/v2/', { auth: `${header}.${edited}.${signature}` });
    expect(base.status).toBe(401);
    expect(base.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('an unsigned (alg none) JWT and garbage are 401 invalid_token', async () => {
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(
      JSON.stringify({ iss: 'berth', aud: REGISTRY_HOST, sub: 'x', exp: 4102444800, access: [{ type: 'repository', name: 'auth/app', actions: ['pull'] }] }),
    ).toString('base64url')}.`;
    for (const bad of [none, 'garbage', 'a.b.c']) {
      const res = await h.registry('/v2/auth/app/tags/list', { auth: bad });
      expect(res.status, bad).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
  });

  it('a JWT for repository A used on repository B is 401 insufficient_scope asking for B', async () => {
    const jwt = await h.jwt(h.token, 'repository:auth/app:pull,push');
    const res = await h.registry('/v2/auth/lib/tags/list', { auth: jwt });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer realm="http://${REGISTRY_HOST}/auth/token",service="${REGISTRY_HOST}",scope="repository:auth/lib:pull",error="insufficient_scope"`,
    );
    expect(await ociCode(res)).toBe('UNAUTHORIZED');
    const push = await startUpload('auth/lib', jwt);
    expect(push.status).toBe(401);
    expect(push.headers.get('www-authenticate')).toContain('scope="repository:auth/lib:pull,push",error="insufficient_scope"');
  });

  it('a pull-only JWT used to push is 401 insufficient_scope asking for pull,push', async () => {
    const jwt = await h.jwt(h.token, 'repository:auth/app:pull');
    const res = await startUpload('auth/app', jwt);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('scope="repository:auth/app:pull,push",error="insufficient_scope"');
  });
});

describe('credentials that can no longer get tokens', () => {
  it('a docker credential with expiry_seconds=1: its JWT does not outlive it, and after it expires nothing works', async () => {
    const password = await h.dockerPassword('auth', { expirySeconds: 1 });
    const body = await tokenBody(password, 'repository:auth/app:pull');
    expect(body.expires_in).toBeLessThanOrEqual(1);
    const claims = claimsOf(body.token);
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(1);
    await sleep(1200);
    expect((await getToken(password, ['repository:auth/app:pull'])).status).toBe(401);
    expect((await postToken({ grant_type: 'password', username: 'u', password, service: REGISTRY_HOST })).status).toBe(401);
    const basic = await h.registry('/v2/auth/app/tags/list', { auth: { basic: password } });
    expect(basic.status).toBe(401);
    const jwt = await h.registry('/v2/auth/app/tags/list', { auth: body.token });
    expect(jwt.status).toBe(401);
    expect(jwt.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('a credential whose expiry is in the past is refused at once', async () => {
    const expired = await h.ctx.credentials.issue({ teamId, kind: 'registry', scopes: ['registry:read'], registryName: 'auth', expiresAt: Date.now() - 1000 });
    expect((await getToken(expired.secret, ['repository:auth/app:pull'])).status).toBe(401);
    expect((await h.registry('/v2/', { auth: { basic: expired.secret } })).status).toBe(401);
    const expiredApi = await h.ctx.credentials.issue({ teamId, kind: 'api', scopes: ['*'], expiresAt: Date.now() - 1 });
    expect((await getToken(expiredApi.secret, ['repository:auth/app:pull'])).status).toBe(401);
  });

  it('a docker credential revoked with POST /v1/oauth/revoke gets no tokens, and its refresh token dies with it', async () => {
    const password = await h.dockerPassword('auth', { readWrite: true });
    const offline = await postToken({ grant_type: 'password', username: 'u', password, service: REGISTRY_HOST, access_type: 'offline' });
    expect(offline.status).toBe(200);
    const { refresh_token } = (await offline.json()) as TokenBody;

    const revoke = await fetch(`${h.apiUrl}/v1/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: password }).toString(),
    });
    expect(revoke.status).toBe(200);

    expect((await getToken(password, ['repository:auth/app:pull'])).status).toBe(401);
    expect((await h.registry('/v2/auth/app/tags/list', { auth: { basic: password } })).status).toBe(401);
    const refreshed = await postToken({ grant_type: 'refresh_token', refresh_token: refresh_token!, service: REGISTRY_HOST });
    expect(refreshed.status).toBe(401);
  });

  it('a credential revoked through ctx.credentials.revoke gets no tokens', async () => {
    const issued = await h.ctx.credentials.issue({ teamId, kind: 'api', scopes: ['registry:read'] });
    expect((await getToken(issued.secret, ['repository:auth/app:pull'])).status).toBe(200);
    expect(await h.ctx.credentials.revoke(issued.secret)).toBe(true);
    expect((await getToken(issued.secret, ['repository:auth/app:pull'])).status).toBe(401);
  });
});

describe('what each credential may do on /v2', () => {
  it('a read-only docker credential pulls, but a push is 403 DENIED mentioning read-only', async () => {
    const password = await h.dockerPassword('auth');
    const jwt = await h.jwt(password, 'repository:auth/app:pull,push');
    const tags = await h.registry('/v2/auth/app/tags/list', { auth: jwt });
    expect(tags.status).toBe(200);
    expect(((await tags.json()) as { tags: string[] }).tags).toEqual(['v1']);
    const blob = await h.registry(`/v2/auth/app/blobs/${image.layer}`, { auth: jwt });
    expect(blob.status).toBe(200);
    expect(digestOf(Buffer.from(await blob.arrayBuffer()))).toBe(image.layer);

    const push = await startUpload('auth/app', jwt);
    expect(push.status).toBe(403);
    const error = await ociError(push);
    expect(error.code).toBe('DENIED');
    expect(error.message).toMatch(/read-only/);
    const put = await h.registry('/v2/auth/app/manifests/v9', { method: 'PUT', auth: jwt, body: '{}', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
    expect(put.status).toBe(403);
    expect((await ociError(put)).message).toMatch(/read-only/);
  });

  it('an API token with only registry:read pulls but cannot push or delete (403)', async () => {
    const reader = await h.ctx.credentials.issue({ teamId, kind: 'api', scopes: ['registry:read'] });
    const jwt = await h.jwt(reader.secret, 'repository:auth/app:pull,push,delete');
    expect((await h.registry('/v2/auth/app/manifests/v1', { auth: jwt })).status).toBe(200);
    const push = await startUpload('auth/app', jwt);
    expect(push.status).toBe(403);
    const error = await ociError(push);
    expect(error.code).toBe('DENIED');
    expect(error.message).toContain('push');
    const del = await h.registry(`/v2/auth/app/manifests/${image.manifest}`, { method: 'DELETE', auth: jwt });
    expect(del.status).toBe(403);
    expect(await ociCode(del)).toBe('DENIED');
    // The manifest is still there.
    expect((await h.registry(`/v2/auth/app/manifests/${image.manifest}`, { method: 'HEAD', auth: jwt })).status).toBe(200);
  });

  it('Basic auth directly on /v2 works and is limited the same way', async () => {
    expect((await h.registry('/v2/', { auth: { basic: h.token } })).status).toBe(200);
    expect((await h.registry('/v2/auth/app/tags/list', { auth: { basic: h.token } })).status).toBe(200);

    const readOnly = await h.dockerPassword('auth');
    expect((await h.registry('/v2/auth/app/tags/list', { auth: { basic: readOnly } })).status).toBe(200);
    const roPush = await startUpload('auth/app', { basic: readOnly });
    expect(roPush.status).toBe(403);
    const roError = await ociError(roPush);
    expect(roError.code).toBe('DENIED');
    expect(roError.message).toMatch(/read-only/);
    // A docker credential is bound to its registry.
    const otherRegistry = await h.registry('/v2/auth-two/x/tags/list', { auth: { basic: readOnly } });
    expect(otherRegistry.status).toBe(403);
    expect(await ociCode(otherRegistry)).toBe('DENIED');

    const reader = await h.ctx.credentials.issue({ teamId, kind: 'api', scopes: ['registry:read'] });
    expect((await h.registry('/v2/auth-two/x/tags/list', { auth: { basic: reader.secret } })).status).toBe(200);
    const readerPush = await startUpload('auth/app', { basic: reader.secret });
    expect(readerPush.status).toBe(403);
    expect(await ociCode(readerPush)).toBe('DENIED');

    const readWrite = await h.dockerPassword('auth', { readWrite: true });
    expect((await startUpload('auth/app', { basic: readWrite })).status).toBe(202);

    const bad = await h.registry('/v2/auth/app/tags/list', { auth: { basic: `dop_v1_${'a'.repeat(64)}` } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('scope="repository:auth/app:pull"');
  });

  it('an unsupported authorization scheme is 401 with a challenge', async () => {
    const res = await h.registry('/v2/', { headers: { authorization: `Token ${h.token}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
  });
});

describe('JWT lifetimes', () => {
  it('write-scoped JWTs live at most 900 s even when --token-ttl is longer', async () => {
    const long = await startHarness({ tokenTtl: '1h' });
    try {
      await long.createRegistry('ttl');
      const read = await long.registry(`/auth/token?service=${REGISTRY_HOST}&scope=repository:ttl/app:pull`, { auth: { basic: long.token } });
      const readBody = (await read.json()) as TokenBody;
      expect(readBody.expires_in).toBe(3600);
      const write = await long.registry(`/auth/token?service=${REGISTRY_HOST}&scope=repository:ttl/app:pull,push`, { auth: { basic: long.token } });
      const writeBody = (await write.json()) as TokenBody;
      expect(writeBody.expires_in).toBeLessThanOrEqual(900);
      expect(writeBody.expires_in).toBeGreaterThan(0);
      const claims = claimsOf(writeBody.token);
      expect(claims.exp - claims.iat).toBe(writeBody.expires_in);
      const del = await long.registry(`/auth/token?service=${REGISTRY_HOST}&scope=repository:ttl/app:delete`, { auth: { basic: long.token } });
      expect(((await del.json()) as TokenBody).expires_in).toBeLessThanOrEqual(900);
    } finally {
      await long.close();
    }
  });

  it('--write-token-ttl caps write-scoped JWTs further, and leaves pull-only JWTs alone', async () => {
    const short = await startHarness({ writeTokenTtl: '60s' });
    try {
      await short.createRegistry('ttl');
      const write = await short.registry(`/auth/token?service=${REGISTRY_HOST}&scope=repository:ttl/app:pull,push`, { auth: { basic: short.token } });
      const writeBody = (await write.json()) as TokenBody;
      expect(writeBody.expires_in).toBe(60);
      expect(claimsOf(writeBody.token).exp - claimsOf(writeBody.token).iat).toBe(60);
      const read = await short.registry(`/auth/token?service=${REGISTRY_HOST}&scope=repository:ttl/app:pull`, { auth: { basic: short.token } });
      expect(((await read.json()) as TokenBody).expires_in).toBe(300);
      // Asking for push without being allowed it is not a write token.
      const reader = await short.ctx.credentials.issue({ teamId: (await short.ctx.teams.byName('default'))!.id, kind: 'api', scopes: ['registry:read'] });
      const denied = await short.registry(`/auth/token?service=${REGISTRY_HOST}&scope=repository:ttl/app:pull,push`, { auth: { basic: reader.secret } });
      expect(((await denied.json()) as TokenBody).expires_in).toBe(300);
    } finally {
      await short.close();
    }
  });
});

describe('GET /v2/_catalog', () => {
  it('lists the repositories of every registry of the caller’s team and nothing else', async () => {
    const jwt = await h.jwt(h.token, 'registry:catalog:*');
    const res = await h.registry('/v2/_catalog', { auth: jwt });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { repositories: string[] }).repositories).toEqual(['auth-two/x', 'auth/app', 'auth/lib'].sort());
  });

  it('a docker credential sees only its own registry', async () => {
    const password = await h.dockerPassword('auth');
    const jwt = await h.jwt(password, 'registry:catalog:*');
    const res = await h.registry('/v2/_catalog', { auth: jwt });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { repositories: string[] }).repositories).toEqual(['auth/app', 'auth/lib']);
    const basic = await h.registry('/v2/_catalog', { auth: { basic: password } });
    expect(basic.status).toBe(200);
    expect(((await basic.json()) as { repositories: string[] }).repositories).toEqual(['auth/app', 'auth/lib']);
  });

  it('another team sees only its own repositories', async () => {
    const jwt = await h.jwt(otherTeamToken, 'registry:catalog:*');
    const res = await h.registry('/v2/_catalog', { auth: jwt });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { repositories: string[] }).repositories).toEqual(['elsewhere/app']);
  });

  it('without the catalog scope: 401 insufficient_scope; without credentials: 401 asking for registry:catalog:*', async () => {
    const jwt = await h.jwt(h.token, 'repository:auth/app:pull');
    const res = await h.registry('/v2/_catalog', { auth: jwt });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('scope="registry:catalog:*",error="insufficient_scope"');
    const anonymous = await h.registry('/v2/_catalog');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain('scope="registry:catalog:*"');
  });

  it('a token without registry:read gets no catalog access', async () => {
    const creator = await h.ctx.credentials.issue({ teamId, kind: 'api', scopes: ['registry:create'] });
    const claims = claimsOf((await tokenBody(creator.secret, 'registry:catalog:*')).token);
    expect(claims.access).toEqual([]);
  });
});
