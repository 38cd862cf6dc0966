/**
 * The DigitalOcean Container Registry API subset on the API listener: creating, listing,
 * getting and deleting registries, name validation, tier limits, docker credentials, bearer
 * auth and per-endpoint scopes, and the `{id, message, request_id}` error envelope.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGISTRY_HOST, startHarness, type Harness } from '../harness.js';

interface DoError {
  id: string;
  message: string;
  request_id: string;
}

interface RegistryBody {
  name: string;
  created_at: string;
  region: string;
  storage_usage_bytes: number;
  storage_usage_bytes_updated_at: string;
  subscription?: { tier: { slug: string; name: string }; created_at: string; updated_at: string };
}

let h: Harness;
let teamId: string;

beforeAll(async () => {
  h = await startHarness();
  teamId = (await h.ctx.teams.byName('default'))!.id;
  await h.createRegistry('main-reg');
});
afterAll(() => h?.close());

function post(path: string, body: unknown, token?: string | null): Promise<Response> {
  return h.api(path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), token });
}

/** Checks the DigitalOcean error envelope and that its request_id is the X-Request-Id header. */
async function expectError(res: Response, status: number, id: string): Promise<DoError> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  const body = JSON.parse(text) as DoError;
  expect(body.id).toBe(id);
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
  const header = res.headers.get('x-request-id');
  expect(header).toBeTruthy();
  expect(body.request_id).toBe(header);
  return body;
}

function decodeAuth(config: { auths: Record<string, { auth: string }> }): { user: string; password: string } {
  expect(Object.keys(config.auths)).toEqual([REGISTRY_HOST]);
  const decoded = Buffer.from(config.auths[REGISTRY_HOST]!.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

async function tokenRow(secret: string) {
  const hash = createHash('sha256').update(secret).digest('hex');
  return h.ctx.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
}

function accessOf(jwt: string): { name: string; actions: string[] }[] {
  return (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { access: { name: string; actions: string[] }[] }).access;
}

describe('POST /v2/registries', () => {
  it('creates a registry: 201 with {registry:{name,created_at,region,storage_usage_bytes,storage_usage_bytes_updated_at}} and Berth\'s endpoint', async () => {
    const res = await post('/v2/registries', { name: 'example', region: 'fra1', subscription_tier_slug: 'professional' });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { registry: RegistryBody };
    expect(Object.keys(body)).toEqual(['registry']);
    expect(Object.keys(body.registry).sort()).toEqual(['created_at', 'endpoint', 'name', 'region', 'storage_usage_bytes', 'storage_usage_bytes_updated_at']);
    expect(body.registry).toMatchObject({ endpoint: `${REGISTRY_HOST}/example` });
    expect(body.registry.name).toBe('example');
    expect(body.registry.region).toBe('fra1');
    expect(body.registry.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Math.abs(Date.parse(body.registry.created_at) - Date.now())).toBeLessThan(60_000);
    expect(body.registry.storage_usage_bytes).toBe(0);
    expect(Number.isNaN(Date.parse(body.registry.storage_usage_bytes_updated_at))).toBe(false);
  });

  it('picks a region when none is given', async () => {
    const res = await post('/v2/registries', { name: 'no-region' });
    expect(res.status).toBe(201);
    const { registry } = (await res.json()) as { registry: RegistryBody };
    expect(['nyc3', 'sfo3', 'ams3', 'sgp1', 'fra1']).toContain(registry.region);
  });

  it('accepts names at the edges of the rules: one letter, 63 characters, digits and dashes inside', async () => {
    for (const name of ['a', `a${'b'.repeat(61)}9`, 'a1-b2']) {
      const res = await post('/v2/registries', { name });
      expect(res.status, name).toBe(201);
    }
  });

  it('refuses names that break the rules with 422 naming the field', async () => {
    const bad = ['UPPER', 'Mixed-case', '1leading-digit', 'trailing-', '-leading', 'a'.repeat(64), 'subscription', 'options', 'validate-name', 'under_score', 'dot.ted', 'spa ce', ''];
    for (const name of bad) {
      const error = await expectError(await post('/v2/registries', { name }), 422, 'unprocessable_entity');
      expect(error.message, JSON.stringify(name)).toMatch(/\bname\b/);
    }
    const list = (await (await h.api('/v2/registries')).json()) as { registries: RegistryBody[] };
    for (const name of bad) expect(list.registries.map((r) => r.name)).not.toContain(name);
  });

  it('refuses a missing or non-string name, an unknown region and an unknown tier, naming the field', async () => {
    expect((await expectError(await post('/v2/registries', {}), 422, 'unprocessable_entity')).message).toMatch(/\bname\b/);
    expect((await expectError(await post('/v2/registries', { name: 42 }), 422, 'unprocessable_entity')).message).toMatch(/\bname\b/);
    expect((await expectError(await post('/v2/registries', { name: 'mars-reg', region: 'mars1' }), 422, 'unprocessable_entity')).message).toMatch(/\bregion\b/);
    expect((await expectError(await post('/v2/registries', { name: 'gold-reg', subscription_tier_slug: 'gold' }), 422, 'unprocessable_entity')).message).toMatch(
      /subscription_tier_slug/,
    );
    expect((await h.api('/v2/registries/mars-reg')).status).toBe(404);
  });

  it('a taken name is 409 conflict, for the same team and for another team', async () => {
    await expectError(await post('/v2/registries', { name: 'main-reg' }), 409, 'conflict');
    const other = await h.newTeam('conflict-team');
    const error = await expectError(await post('/v2/registries', { name: 'main-reg' }, other), 409, 'conflict');
    expect(error.message).toContain('main-reg');
    // The other team has no registry afterwards.
    const list = (await (await h.api('/v2/registries', { token: other })).json()) as { registries: RegistryBody[] };
    expect(list.registries).toEqual([]);
  });

  it('malformed JSON, a non-object body and an empty body are 400 bad_request', async () => {
    await expectError(await post('/v2/registries', '{"name":'), 400, 'bad_request');
    await expectError(await post('/v2/registries', '["name"]'), 400, 'bad_request');
    await expectError(await post('/v2/registries', 'null'), 400, 'bad_request');
    await expectError(await h.api('/v2/registries', { method: 'POST', headers: { 'content-type': 'application/json' } }), 400, 'bad_request');
    await expectError(await h.api('/v2/registries', { method: 'POST', body: 'name=x', headers: { 'content-type': 'text/plain' } }), 400, 'bad_request');
    await expectError(await post('/v2/registries/validate-name', '{oops'), 400, 'bad_request');
  });
});

describe('tier limits', () => {
  it('a basic team may have one registry; the second is 412 precondition_failed, even when it asks for professional', async () => {
    const basic = await h.newTeam('basic-team', 'basic');
    expect((await post('/v2/registries', { name: 'basic-one' }, basic)).status).toBe(201);
    const error = await expectError(await post('/v2/registries', { name: 'basic-two' }, basic), 412, 'precondition_failed');
    expect(error.message).toMatch(/one registry|Professional/i);
    await expectError(await post('/v2/registries', { name: 'basic-two', subscription_tier_slug: 'professional' }, basic), 412, 'precondition_failed');
    expect((await post('/v2/registries/validate-name', { name: 'basic-two' }, basic)).status).toBe(204);
    const list = (await (await h.api('/v2/registries', { token: basic })).json()) as { registries: RegistryBody[] };
    expect(list.registries.map((r) => r.name)).toEqual(['basic-one']);
    expect(list.registries[0]!.subscription!.tier.slug).toBe('basic');
  });

  it('a starter team may have one registry', async () => {
    const starter = await h.newTeam('starter-team', 'starter');
    expect((await post('/v2/registries', { name: 'starter-one' }, starter)).status).toBe(201);
    await expectError(await post('/v2/registries', { name: 'starter-two' }, starter), 412, 'precondition_failed');
  });

  it('a professional team may have ten; the eleventh is refused', async () => {
    const pro = await h.newTeam('pro-team', 'professional');
    for (let i = 1; i <= 10; i++) {
      const res = await post('/v2/registries', { name: `pro-${i}` }, pro);
      expect(res.status, `pro-${i}`).toBe(201);
    }
    const error = await expectError(await post('/v2/registries', { name: 'pro-11' }, pro), 412, 'precondition_failed');
    expect(error.message).toMatch(/10/);
    const list = (await (await h.api('/v2/registries', { token: pro })).json()) as { registries: RegistryBody[] };
    expect(list.registries).toHaveLength(10);
    // Deleting one frees a slot.
    expect((await h.api('/v2/registries/pro-3', { method: 'DELETE', token: pro })).status).toBe(204);
    expect((await post('/v2/registries', { name: 'pro-11' }, pro)).status).toBe(201);
  });
});

describe('tier limits under concurrency', () => {
  it('concurrent creates cannot push a basic team past one registry', async () => {
    const basic = await h.newTeam('race-basic', 'basic');
    // Warm the server's database pool so the creates below really run side by side.
    await Promise.all(Array.from({ length: 10 }, () => h.api('/v2/registries', { token: basic }).then((r) => r.arrayBuffer())));
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => post('/v2/registries', { name: `race-basic-${i}` }, basic)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(9);
    const list = (await (await h.api('/v2/registries', { token: basic })).json()) as { registries: RegistryBody[] };
    expect(list.registries).toHaveLength(1);
  });

  it('concurrent creates cannot push a professional team past ten registries', async () => {
    const pro = await h.newTeam('race-pro', 'professional');
    for (let i = 1; i <= 8; i++) expect((await post('/v2/registries', { name: `race-pro-${i}` }, pro)).status).toBe(201);
    const results = await Promise.all([9, 10, 11, 12, 13, 14].map((i) => post('/v2/registries', { name: `race-pro-${i}` }, pro)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(2);
    expect(results.filter((r) => r.status === 412)).toHaveLength(4);
    const list = (await (await h.api('/v2/registries', { token: pro })).json()) as { registries: RegistryBody[] };
    expect(list.registries).toHaveLength(10);
  });
});

describe('GET /v2/registries and /v2/registries/:name', () => {
  it('lists the team’s registries, sorted, each with its subscription', async () => {
    const team = await h.newTeam('list-team', 'professional');
    for (const name of ['list-b', 'list-a']) expect((await post('/v2/registries', { name, region: 'ams3' }, team)).status).toBe(201);
    const res = await h.api('/v2/registries', { token: team });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { registries: RegistryBody[] };
    expect(body.registries.map((r) => r.name)).toEqual(['list-a', 'list-b']);
    for (const r of body.registries) {
      expect(r.region).toBe('ams3');
      expect(r.storage_usage_bytes).toBe(0);
      expect(r.subscription!.tier.slug).toBe('professional');
      expect(r.subscription!.tier.name).toBe('Professional');
      expect(r.subscription!.created_at).toMatch(/Z$/);
      expect(r.subscription!.updated_at).toMatch(/Z$/);
    }
  });

  it('gets one registry (without subscription); an unknown one is 404 not_found', async () => {
    const res = await h.api('/v2/registries/main-reg');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { registry: RegistryBody };
    expect(body.registry.name).toBe('main-reg');
    expect(body.registry.subscription).toBeUndefined();
    const error = await expectError(await h.api('/v2/registries/no-such-registry'), 404, 'not_found');
    expect(error.message).toContain('no-such-registry');
  });
});

describe('DELETE /v2/registries/:name', () => {
  it('deletes: 204 with no body; then GET and DELETE are 404, its docker credentials stop working, and the name is free again', async () => {
    expect((await post('/v2/registries', { name: 'doomed' })).status).toBe(201);
    const password = await h.dockerPassword('doomed', { readWrite: true });
    expect((await h.registry('/v2/', { auth: { basic: password } })).status).toBe(200);

    const res = await h.api('/v2/registries/doomed', { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    await expectError(await h.api('/v2/registries/doomed'), 404, 'not_found');
    await expectError(await h.api('/v2/registries/doomed', { method: 'DELETE' }), 404, 'not_found');
    expect((await h.registry('/v2/', { auth: { basic: password } })).status).toBe(401);
    expect((await post('/v2/registries/validate-name', { name: 'doomed' })).status).toBe(204);
    expect((await post('/v2/registries', { name: 'doomed' })).status).toBe(201);
  });
});

describe('POST /v2/registries/validate-name', () => {
  it('204 with no body for a free name, 409 conflict for a taken one (also when another team has it)', async () => {
    const free = await post('/v2/registries/validate-name', { name: 'nobody-has-this' });
    expect(free.status).toBe(204);
    expect(await free.text()).toBe('');
    await expectError(await post('/v2/registries/validate-name', { name: 'main-reg' }), 409, 'conflict');
    const other = await h.newTeam('validate-team');
    await expectError(await post('/v2/registries/validate-name', { name: 'main-reg' }, other), 409, 'conflict');
  });

  it('a name that could never be created is not reported as available (422 naming the field, not 204)', async () => {
    for (const name of ['UPPER', 'subscription', 'trailing-', 'a'.repeat(64)]) {
      const res = await post('/v2/registries/validate-name', { name });
      const error = await expectError(res, 422, 'unprocessable_entity');
      expect(error.message, name).toMatch(/\bname\b/);
    }
  });

  it('a missing name is 422 naming the field', async () => {
    expect((await expectError(await post('/v2/registries/validate-name', {}), 422, 'unprocessable_entity')).message).toMatch(/\bname\b/);
  });
});

describe('docker credentials', () => {
  it('GET /v2/registries/:name/docker-credentials returns {auths:{host:{auth}}} whose auth is <secret>:<secret>', async () => {
    const res = await h.api('/v2/registries/main-reg/docker-credentials');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { auths: Record<string, { auth: string }> };
    expect(Object.keys(body)).toEqual(['auths']);
    const { user, password } = decodeAuth(body);
    expect(password).toMatch(/^dop_v1_[0-9a-f]{64}$/);
    expect(user).toBe(password);
    expect((await h.registry('/v2/', { auth: { basic: password } })).status).toBe(200);
  });

  it('stores the secret only as a hash', async () => {
    const password = decodeAuth((await (await h.api('/v2/registries/main-reg/docker-credentials')).json()) as { auths: Record<string, { auth: string }> }).password;
    const rows = await h.ctx.db.selectFrom('tokens').selectAll().execute();
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(password);
    expect(dump).not.toContain(password.slice('dop_v1_'.length));
    const row = await tokenRow(password);
    expect(row).toBeDefined();
    expect(row!.hash).toBe(createHash('sha256').update(password).digest('hex'));
    expect(row!.kind).toBe('registry');
    expect(row!.registry_name).toBe('main-reg');
    // The bootstrap token is not stored in the clear either.
    expect(dump).not.toContain(h.token);
  });

  it('is read-only by default and never expires; read_write=true allows push', async () => {
    const readOnly = decodeAuth((await (await h.api('/v2/registries/main-reg/docker-credentials')).json()) as { auths: Record<string, { auth: string }> }).password;
    const roRow = await tokenRow(readOnly);
    expect(JSON.parse(roRow!.scopes)).toEqual(['registry:read']);
    expect(roRow!.expires_at).toBeNull();
    expect(accessOf(await h.jwt(readOnly, 'repository:main-reg/app:pull,push'))).toEqual([{ type: 'repository', name: 'main-reg/app', actions: ['pull'] }]);

    const explicit = await h.api('/v2/registries/main-reg/docker-credentials?read_write=false&expiry_seconds=0');
    expect(explicit.status).toBe(200);
    const explicitRow = await tokenRow(decodeAuth((await explicit.json()) as { auths: Record<string, { auth: string }> }).password);
    expect(JSON.parse(explicitRow!.scopes)).toEqual(['registry:read']);
    expect(explicitRow!.expires_at).toBeNull();

    const rwRes = await h.api('/v2/registries/main-reg/docker-credentials?read_write=true');
    const readWrite = decodeAuth((await rwRes.json()) as { auths: Record<string, { auth: string }> }).password;
    expect(JSON.parse((await tokenRow(readWrite))!.scopes)).toContain('registry:update');
    const access = accessOf(await h.jwt(readWrite, 'repository:main-reg/app:pull,push'));
    expect(access).toHaveLength(1);
    expect([...access[0]!.actions].sort()).toEqual(['pull', 'push']);
    expect((await h.registry('/v2/main-reg/app/blobs/uploads/', { method: 'POST', auth: { basic: readWrite } })).status).toBe(202);
  });

  it('honours expiry_seconds', async () => {
    const before = Date.now();
    const res = await h.api('/v2/registries/main-reg/docker-credentials?expiry_seconds=600');
    const after = Date.now();
    expect(res.status).toBe(200);
    const row = await tokenRow(decodeAuth((await res.json()) as { auths: Record<string, { auth: string }> }).password);
    expect(Number(row!.expires_at)).toBeGreaterThanOrEqual(before + 600_000);
    expect(Number(row!.expires_at)).toBeLessThanOrEqual(after + 600_000);
  });

  it('GET /v2/registry/docker-credentials (legacy) answers the same shape', async () => {
    const res = await h.api('/v2/registry/docker-credentials?read_write=true&expiry_seconds=3600');
    expect(res.status).toBe(200);
    const { user, password } = decodeAuth((await res.json()) as { auths: Record<string, { auth: string }> });
    expect(user).toBe(password);
    expect(password).toMatch(/^dop_v1_[0-9a-f]{64}$/);
    const row = await tokenRow(password);
    expect(row!.kind).toBe('registry');
    expect(row!.expires_at).not.toBeNull();
    expect((await h.registry('/v2/main-reg/app/blobs/uploads/', { method: 'POST', auth: { basic: password } })).status).toBe(202);
  });

  it('bad read_write and expiry_seconds values are 400 bad_request naming the parameter', async () => {
    for (const base of ['/v2/registries/main-reg/docker-credentials', '/v2/registry/docker-credentials']) {
      for (const [query, field] of [
        ['read_write=maybe', 'read_write'],
        ['read_write=yes please', 'read_write'],
        ['expiry_seconds=-1', 'expiry_seconds'],
        ['expiry_seconds=abc', 'expiry_seconds'],
        ['expiry_seconds=1.5', 'expiry_seconds'],
      ] as const) {
        const error = await expectError(await h.api(`${base}?${query.replace(' ', '%20')}`), 400, 'bad_request');
        expect(error.message, `${base}?${query}`).toContain(field);
      }
    }
  });

  it('an unknown registry is 404 and issues nothing', async () => {
    const count = async () => (await h.ctx.db.selectFrom('tokens').select('id').execute()).length;
    const before = await count();
    await expectError(await h.api('/v2/registries/nope-nope/docker-credentials?read_write=true'), 404, 'not_found');
    expect(await count()).toBe(before);
  });
});

describe('authentication', () => {
  const endpoints: [string, string, unknown?][] = [
    ['GET', '/v2/registries'],
    ['POST', '/v2/registries', { name: 'unauth-reg' }],
    ['POST', '/v2/registries/validate-name', { name: 'unauth-reg' }],
    ['GET', '/v2/registries/main-reg'],
    ['DELETE', '/v2/registries/main-reg'],
    ['GET', '/v2/registries/main-reg/docker-credentials'],
    ['GET', '/v2/registry/docker-credentials'],
  ];

  function call(method: string, path: string, body: unknown, init: { token?: string | null; headers?: Record<string, string> }): Promise<Response> {
    return h.api(path, { method, body: body === undefined ? undefined : JSON.stringify(body), ...init });
  }

  it('a missing or malformed Authorization header is 401 unauthorized on every endpoint', async () => {
    for (const [method, path, body] of endpoints) {
      await expectError(await call(method, path, body, { token: null }), 401, 'unauthorized');
      await expectError(await call(method, path, body, { token: null, headers: { authorization: 'Bearer' } }), 401, 'unauthorized');
      await expectError(await call(method, path, body, { token: null, headers: { authorization: `Basic ${Buffer.from(`${h.token}:${h.token}`).toString('base64')}` } }), 401, 'unauthorized');
    }
  });

  it('unknown, revoked, expired tokens and docker credentials are 401 unauthorized', async () => {
    const revoked = await h.ctx.credentials.issue({ teamId, kind: 'api', scopes: ['*'] });
    await h.ctx.credentials.revoke(revoked.secret);
    const expired = await h.ctx.credentials.issue({ teamId, kind: 'api', scopes: ['*'], expiresAt: Date.now() - 1000 });
    const dockerCredential = await h.dockerPassword('main-reg', { readWrite: true });
    for (const token of [`dop_v1_${'0'.repeat(64)}`, 'not-a-token', revoked.secret, expired.secret, dockerCredential]) {
      for (const [method, path, body] of endpoints) {
        await expectError(await call(method, path, body, { token }), 401, 'unauthorized');
      }
    }
    // Nothing was deleted or created by those attempts.
    expect((await h.api('/v2/registries/main-reg')).status).toBe(200);
    expect((await h.api('/v2/registries/unauth-reg')).status).toBe(404);
  });
});

describe('scopes', () => {
  /** What each endpoint needs, and a request that succeeds (or fails after the scope check) when it is allowed. */
  const endpoints: { name: string; needs: string[]; method: string; path: string; body?: unknown; allowedStatus: number }[] = [
    { name: 'list', needs: ['registry:read'], method: 'GET', path: '/v2/registries', allowedStatus: 200 },
    { name: 'get', needs: ['registry:read'], method: 'GET', path: '/v2/registries/main-reg', allowedStatus: 200 },
    // An invalid name: allowed callers get past the scope check and are told about the name.
    { name: 'create', needs: ['registry:create'], method: 'POST', path: '/v2/registries', body: { name: 'NOT-VALID' }, allowedStatus: 422 },
    { name: 'validate-name', needs: ['registry:create'], method: 'POST', path: '/v2/registries/validate-name', body: { name: 'scope-free-name' }, allowedStatus: 204 },
    // A registry that does not exist: allowed callers learn that, nothing is deleted.
    { name: 'delete', needs: ['registry:delete'], method: 'DELETE', path: '/v2/registries/scope-no-such', allowedStatus: 404 },
    { name: 'docker-credentials', needs: ['registry:read', 'registry:update'], method: 'GET', path: '/v2/registries/main-reg/docker-credentials', allowedStatus: 200 },
    { name: 'legacy docker-credentials', needs: ['registry:read', 'registry:update'], method: 'GET', path: '/v2/registry/docker-credentials', allowedStatus: 200 },
  ];
  const scopeSets = [
    ['registry:read'],
    ['registry:create'],
    ['registry:update'],
    ['registry:delete'],
    ['registry:read', 'registry:update'],
    ['registry:create', 'registry:delete'],
    ['*'],
  ];

  it('each endpoint answers 403 forbidden, naming the missing scope, to a token without its scope', async () => {
    for (const scopes of scopeSets) {
      const { secret } = await h.ctx.credentials.issue({ teamId, kind: 'api', scopes });
      for (const e of endpoints) {
        const res = await h.api(e.path, { method: e.method, token: secret, body: e.body === undefined ? undefined : JSON.stringify(e.body) });
        const allowed = scopes.includes('*') || e.needs.every((s) => scopes.includes(s));
        const label = `${e.name} with [${scopes.join(',')}]`;
        if (allowed) {
          expect(res.status, label).toBe(e.allowedStatus);
          await res.arrayBuffer();
        } else {
          const error = await expectError(res, 403, 'forbidden');
          const missing = e.needs.filter((s) => !scopes.includes(s));
          for (const m of missing) expect(error.message, label).toContain(m);
        }
      }
    }
    expect((await h.api('/v2/registries/main-reg')).status).toBe(200);
  });

  it('a token without registry:delete cannot delete an existing registry', async () => {
    const { secret } = await h.ctx.credentials.issue({ teamId, kind: 'api', scopes: ['registry:read', 'registry:create', 'registry:update'] });
    await expectError(await h.api('/v2/registries/main-reg', { method: 'DELETE', token: secret }), 403, 'forbidden');
    expect((await h.api('/v2/registries/main-reg')).status).toBe(200);
  });
});

describe('request ids', () => {
  it('every error carries X-Request-Id equal to the body’s request_id, and ids differ per request', async () => {
    const a = await expectError(await h.api('/v2/registries/nope-a'), 404, 'not_found');
    const b = await expectError(await h.api('/v2/registries/nope-b'), 404, 'not_found');
    expect(a.request_id).not.toBe(b.request_id);
  });

  it('a sane incoming X-Request-Id is kept', async () => {
    const res = await h.api('/v2/registries/nope-c', { headers: { 'x-request-id': 'req-test-0123456789' } });
    const error = await expectError(res, 404, 'not_found');
    expect(error.request_id).toBe('req-test-0123456789');
  });

  it('an unknown route is 404 not_found in the same envelope', async () => {
    await expectError(await h.api('/v2/no-such-endpoint'), 404, 'not_found');
  });
});
