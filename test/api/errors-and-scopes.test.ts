/**
 * Every operation of both DigitalOcean trees, taken from Berth's own /openapi.json: bad tokens,
 * each missing scope, another team's registries, the error envelope against DigitalOcean's
 * schema, request validation naming the field, and percent-encoded path parameters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationIds, violations } from '../do-contract.js';
import { pushImage, startHarness, type Harness } from '../harness.js';
import { expectError, fillPath, operationFor, PAGINATED_OPERATIONS, publishedOperations, type Operation } from './support.js';

const ALL_SCOPES = ['registry:read', 'registry:create', 'registry:update', 'registry:delete'];

let h: Harness;
let ops: Operation[];
let teamA: string;
let tokenB: string;
let jwtA: string;
let m1: string;
let m2: string;
let gcUuid: string;

/** Path values naming team A's real things: what the tests below must never change. */
let real: Record<string, string>;
/** Path values that pass every check but find nothing: a caller allowed past the scope check learns 404. */
const harmless: Record<string, string> = {
  registry_name: 'zzz-none-reg',
  repository_name: 'nothing/here',
  repository_tag: 'none',
  manifest_digest: `sha256:${'0'.repeat(64)}`,
  garbage_collection_uuid: '00000000-0000-4000-8000-000000000000',
};

function bodyFor(op: Operation, kind: 'real' | 'harmless'): unknown {
  const id = op.operationId;
  if (id.endsWith('_validate_name')) return { name: 'free-scope-name' };
  if (id === 'registries_create' || id === 'registry_create') {
    return { name: kind === 'real' ? 'scope-new-reg' : 'NOT-VALID', subscription_tier_slug: 'basic' };
  }
  if (id.endsWith('_update_subscription')) return kind === 'real' ? { tier_slug: 'starter' } : {};
  if (id.endsWith('_run_garbageCollection')) return { type: 'unreferenced blobs only' };
  if (id.endsWith('_update_garbageCollection')) return { cancel: true };
  return undefined;
}

function call(op: Operation, values: Record<string, string>, init: { token?: string | null; headers?: Record<string, string>; body?: unknown } = {}): Promise<Response> {
  const body = init.body === undefined ? bodyFor(op, values === harmless ? 'harmless' : 'real') : init.body;
  return h.api(fillPath(op.path, values), {
    method: op.method,
    token: init.token,
    headers: init.headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function tokenWith(scopes: string[]): Promise<string> {
  return (await h.ctx.credentials.issue({ teamId: teamA, kind: 'api', scopes })).secret;
}

/** What the 401/403/other-team requests must have left alone. */
async function expectTeamAUntouched(): Promise<void> {
  expect((await h.api('/v2/registries/alpha-reg')).status).toBe(200);
  expect((await h.api('/v2/registries/beta-reg')).status).toBe(200);
  expect((await h.api('/v2/registries/scope-new-reg')).status).toBe(404);
  const tags = (await (await h.api('/v2/registries/alpha-reg/repositories/myorg%2Fapp/tags')).json()) as { tags: { tag: string }[] };
  expect(tags.tags.map((t) => t.tag).sort()).toEqual(['v1', 'v2']);
  const digests = (await (await h.api('/v2/registries/alpha-reg/repositories/myorg%2Fapp/digests')).json()) as { manifests: { digest: string }[] };
  expect(digests.manifests.map((m) => m.digest).sort()).toEqual([m1, m2].sort());
  const gc = (await (await h.api(`/v2/registries/alpha-reg/garbage-collection/${gcUuid}`, { method: 'PUT', body: JSON.stringify({ cancel: false }) })).json()) as {
    garbage_collection: { status: string };
  };
  expect(gc.garbage_collection.status).toBe('requested');
  const sub = (await (await h.api('/v2/registries/subscription')).json()) as { subscription: { tier: { slug: string } } };
  expect(sub.subscription.tier.slug).toBe('professional');
  expect((await h.registry(`/v2/alpha-reg/myorg/app/manifests/v1`, { auth: jwtA })).status).toBe(200);
}

beforeAll(async () => {
  h = await startHarness({ rateLimitPerMinute: '100000', rateLimitPerHour: '1000000' });
  ops = await publishedOperations(h);
  teamA = (await h.ctx.teams.byName('default'))!.id;
  await h.createRegistry('alpha-reg');
  await h.createRegistry('beta-reg');
  jwtA = await h.jwt(h.token, 'repository:alpha-reg/myorg/app:pull,push,delete', 'repository:alpha-reg/myorg/tool:pull,push');
  m1 = (await pushImage(h, jwtA, 'alpha-reg/myorg/app', 'v1')).manifest;
  m2 = (await pushImage(h, jwtA, 'alpha-reg/myorg/app', 'v2')).manifest;
  const started = await h.api('/v2/registries/alpha-reg/garbage-collection', { method: 'POST' });
  expect(started.status).toBe(201);
  gcUuid = ((await started.json()) as { garbage_collection: { uuid: string } }).garbage_collection.uuid;
  real = { registry_name: 'alpha-reg', repository_name: 'myorg/app', repository_tag: 'v1', manifest_digest: m2, garbage_collection_uuid: gcUuid };
  tokenB = await h.newTeam('intruders', 'professional');
  await h.createRegistry('intruder-reg', tokenB);
});
afterAll(() => h?.close());

describe('the published operations', () => {
  it('are the 37 of DigitalOcean’s two trees, each with its registry scopes', () => {
    expect(ops.map((o) => o.operationId).sort()).toEqual(operationIds());
    expect(ops.filter((o) => o.path.startsWith('/v2/registries'))).toHaveLength(19);
    expect(ops.filter((o) => o.path === '/v2/registry' || o.path.startsWith('/v2/registry/'))).toHaveLength(18);
    for (const op of ops) {
      expect(op.scopes.length, op.operationId).toBeGreaterThan(0);
      for (const s of op.scopes) expect(ALL_SCOPES, op.operationId).toContain(s);
      const expected = op.operationId.includes('dockerCredentials')
        ? ['registry:read', 'registry:update']
        : op.method === 'GET'
          ? ['registry:read']
          : op.method === 'DELETE'
            ? ['registry:delete']
            : op.operationId.endsWith('_create') || op.operationId.endsWith('_validate_name')
              ? ['registry:create']
              : ['registry:update'];
      expect(op.scopes, op.operationId).toEqual(expected);
    }
  });
});

describe('authentication on every operation', () => {
  it('no token, a malformed header, an unknown token, a revoked token and a docker credential are 401 unauthorized', async () => {
    const revoked = await tokenWith(['*']);
    await h.ctx.credentials.revoke(revoked);
    const docker = await h.dockerPassword('alpha-reg', { readWrite: true });
    const variants: { token?: string | null; headers?: Record<string, string> }[] = [
      { token: null },
      { token: null, headers: { authorization: `Basic ${Buffer.from(`${h.token}:${h.token}`).toString('base64')}` } },
      { token: `dop_v1_${'f'.repeat(64)}` },
      { token: revoked },
      { token: docker },
    ];
    for (const op of ops) {
      for (const v of variants) {
        const error = await expectError(await call(op, real, v), 401, 'unauthorized', op.operationId);
        expect(error.message, op.operationId).toMatch(/authenticate/i);
      }
    }
    await expectTeamAUntouched();
  });
});

describe('scopes on every operation', () => {
  it('a token lacking any one required scope is 403 forbidden naming that scope, and nothing changes', async () => {
    const without = new Map<string, string>();
    for (const s of ALL_SCOPES) without.set(s, await tokenWith(ALL_SCOPES.filter((x) => x !== s)));
    let checked = 0;
    for (const op of ops) {
      for (const scope of op.scopes) {
        const error = await expectError(await call(op, real, { token: without.get(scope)! }), 403, 'forbidden', op.operationId);
        expect(error.message, `${op.operationId} without ${scope}`).toContain(scope);
        checked++;
      }
      // A token with none of the registry scopes is refused too, naming every one it lacks.
      const none = await expectError(await call(op, real, { token: await tokenWith(['account:read']) }), 403, 'forbidden', op.operationId);
      for (const scope of op.scopes) expect(none.message).toContain(scope);
    }
    expect(checked).toBe(39); // 37 operations, two of them need read and update
    await expectTeamAUntouched();
  });

  it('a token with exactly the required scopes gets past the scope check on every operation', async () => {
    const expected: Record<string, number> = {
      registries_list: 200,
      registries_create: 422,
      registry_create: 422,
      registries_validate_name: 204,
      registry_validate_name: 204,
      registries_get_subscription: 200,
      registry_get_subscription: 200,
      registries_update_subscription: 200,
      registry_update_subscription: 200,
      registries_get_options: 200,
      registry_get_options: 200,
      registry_get_dockerCredentials: 200,
      // The team has two registries: the single-registry API cannot answer.
      registry_get: 412,
      registry_delete: 412,
    };
    for (const op of ops) {
      const res = await call(op, harmless, { token: await tokenWith(op.scopes) });
      const want = expected[op.operationId] ?? 404;
      expect(res.status, `${op.operationId}: ${await res.clone().text()}`).toBe(want);
      const text = await res.text();
      expect(violations(op.operationId, res.status, text ? JSON.parse(text) : undefined), op.operationId).toEqual([]);
    }
  });

  it('the wildcard scope allows everything; a token of another team never reaches team A', async () => {
    const wildcard = await tokenWith(['*']);
    expect((await h.api('/v2/registries/alpha-reg', { token: wildcard })).status).toBe(200);
    const list = (await (await h.api('/v2/registries', { token: tokenB })).json()) as { registries: { name: string }[] };
    expect(list.registries.map((r) => r.name)).toEqual(['intruder-reg']);
  });
});

describe('another team’s registry is not found (404, never 403) on every registry-scoped operation', () => {
  it('answers exactly as for a registry that does not exist, and changes nothing', async () => {
    const scoped = ops.filter((o) => o.params.includes('registry_name'));
    expect(scoped).toHaveLength(23);
    for (const op of scoped) {
      const theirs = await expectError(await call(op, real, { token: tokenB }), 404, 'not_found', op.operationId);
      const missing = await expectError(await call(op, { ...real, registry_name: 'zzz-none-reg' }, { token: tokenB }), 404, 'not_found', op.operationId);
      expect(theirs.message.replaceAll('alpha-reg', 'X'), op.operationId).toBe(missing.message.replaceAll('zzz-none-reg', 'X'));
    }
    // The intruder's own registry holds nothing of team A's.
    expect((await h.api('/v2/registries/intruder-reg/repositories/myorg%2Fapp/tags', { token: tokenB })).status).toBe(404);
    expect((await h.api(`/v2/registries/intruder-reg/garbage-collection/${gcUuid}`, { method: 'PUT', token: tokenB, body: JSON.stringify({ cancel: true }) })).status).toBe(
      404,
    );
    await expectTeamAUntouched();
  });

  it('registries_list, options and subscription of the other team show only its own things', async () => {
    const body = (await (await h.api('/v2/registries', { token: tokenB })).json()) as { registries: { name: string }[]; total_storage_usage_bytes: number };
    expect(body.registries.map((r) => r.name)).toEqual(['intruder-reg']);
    expect(body.total_storage_usage_bytes).toBe(0);
    // Team A has two registries and content; the intruder's eligibility reflects only its own one, empty registry.
    const tiers = async (token: string) =>
      ((await (await h.api('/v2/registries/options', { token })).json()) as { options: { subscription_tiers: { slug: string; eligible: boolean }[] } }).options.subscription_tiers.map(
        (t) => [t.slug, t.eligible],
      );
    expect(await tiers(tokenB)).toEqual([
      ['starter', true],
      ['basic', true],
      ['professional', true],
    ]);
    expect(await tiers(h.token)).toEqual([
      ['starter', false],
      ['basic', false],
      ['professional', true],
    ]);
  });
});

describe('the legacy single-registry API with two registries', () => {
  it('GET and DELETE /v2/registry answer 412 precondition_failed and delete nothing', async () => {
    const get = await expectError(await h.api('/v2/registry'), 412, 'precondition_failed', 'registry_get');
    expect(get.message).toMatch(/multiple registries/);
    expect(get.message).toContain('/v2/registries/{registry_name}');
    const del = await expectError(await h.api('/v2/registry', { method: 'DELETE' }), 412, 'precondition_failed', 'registry_delete');
    expect(del.message).toMatch(/multiple registries/);
    await expectTeamAUntouched();
  });

  it('with one registry they work; with none GET is 404', async () => {
    const solo = await h.newTeam('solo', 'basic');
    await expectError(await h.api('/v2/registry', { token: solo }), 404, 'not_found', 'registry_get');
    await expectError(await h.api('/v2/registry', { method: 'DELETE', token: solo }), 404, 'not_found', 'registry_delete');
    expect((await h.api('/v2/registries', { method: 'POST', token: solo, body: JSON.stringify({ name: 'solo-reg' }) })).status).toBe(201);
    const res = await h.api('/v2/registry', { token: solo });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { registry: { name: string; subscription: { tier: { slug: string } } } };
    expect(violations('registry_get', 200, body)).toEqual([]);
    expect(body.registry.name).toBe('solo-reg');
    expect(body.registry.subscription.tier.slug).toBe('basic');
    expect((await h.api('/v2/registry', { method: 'DELETE', token: solo })).status).toBe(204);
    expect((await h.api('/v2/registries/solo-reg', { token: solo })).status).toBe(404);
  });
});

describe('request validation names the field', () => {
  const withBody = () => ops.filter((o) => o.method === 'POST' || o.method === 'PUT');

  it('malformed JSON and a non-object body are 400 bad_request on every operation that takes a body', async () => {
    expect(withBody()).toHaveLength(10);
    for (const op of withBody()) {
      const malformed = await expectError(await call(op, real, { body: '{"name": ' }), 400, 'bad_request', op.operationId);
      expect(malformed.message, op.operationId).toMatch(/body|JSON/i);
      const array = await expectError(await call(op, real, { body: '["x"]' }), 400, 'bad_request', op.operationId);
      expect(array.message, op.operationId).toMatch(/body|object/i);
    }
    await expectTeamAUntouched();
  });

  it('wrong types and unknown enum values are 422 unprocessable_entity naming the field', async () => {
    const cases: [string, string, unknown, string][] = [
      // JSON types are not coerced: none of these may create "a", "true" or "42".
      ['POST', '/v2/registries', { name: ['a'] }, 'name'],
      ['POST', '/v2/registries', { name: true }, 'name'],
      ['POST', '/v2/registries/validate-name', { name: 42 }, 'name'],
      ['POST', '/v2/registries', { name: 'typed-reg', region: 5 }, 'region'],
      ['POST', '/v2/registries', { name: 'typed-reg', region: 'mars1' }, 'region'],
      ['POST', '/v2/registries', { name: 'typed-reg', subscription_tier_slug: 'gold' }, 'subscription_tier_slug'],
      ['POST', '/v2/registry', { name: 'typed-reg' }, 'subscription_tier_slug'],
      ['POST', '/v2/registry', { subscription_tier_slug: 'basic' }, 'name'],
      ['POST', '/v2/registry', { name: 'typed-reg', subscription_tier_slug: 'basic', region: 'mars1' }, 'region'],
      // sfo2 is in the multi-registry enum but not in the legacy one.
      ['POST', '/v2/registry', { name: 'typed-reg', subscription_tier_slug: 'basic', region: 'sfo2' }, 'region'],
      ['POST', '/v2/registries/validate-name', { name: { value: 'x' } }, 'name'],
      ['POST', '/v2/registry/validate-name', {}, 'name'],
      ['POST', '/v2/registries/subscription', { tier_slug: 'gold' }, 'tier_slug'],
      ['POST', '/v2/registry/subscription', { tier_slug: 'gold' }, 'tier_slug'],
      ['POST', '/v2/registries/subscription', { tier_slug: ['basic'] }, 'tier_slug'],
      ['POST', '/v2/registries/alpha-reg/garbage-collection', { type: 'everything' }, 'type'],
      ['POST', '/v2/registry/alpha-reg/garbage-collection', { type: 'untagged manifests' }, 'type'],
      ['PUT', `/v2/registries/alpha-reg/garbage-collection/${'x'}`, { cancel: 'maybe' }, 'cancel'],
      // `cancel` is optional (the reference's curl example sends no body), but never a non-boolean.
      ['PUT', `/v2/registry/alpha-reg/garbage-collection/${'x'}`, { cancel: null }, 'cancel'],
      ['PUT', `/v2/registries/alpha-reg/garbage-collection/${'x'}`, { cancel: { yes: true } }, 'cancel'],
      ['PUT', `/v2/registries/alpha-reg/garbage-collection/${'x'}`, { cancel: 1 }, 'cancel'],
      ['PUT', `/v2/registry/alpha-reg/garbage-collection/${'x'}`, { cancel: 'true' }, 'cancel'],
      ['POST', '/v2/registries/subscription', { tier_slug: null }, 'tier_slug'],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await h.api(path, { method, body: JSON.stringify(body) });
      const error = await expectError(res, 422, 'unprocessable_entity', operationFor(ops, method, path));
      expect(error.message, `${method} ${path} ${JSON.stringify(body)}`).toContain(field);
    }
    await expectTeamAUntouched();
    for (const name of ['typed-reg', 'a', 'true']) expect((await h.api(`/v2/registries/${name}`)).status, name).toBe(404);
  });

  it('a region the schema knows but this server does not offer is 422 naming region', async () => {
    // blr1 is in DigitalOcean's multi-registry enum; the default --regions does not offer it.
    const solo = await h.newTeam('region-team', 'basic');
    const error = await expectError(
      await h.api('/v2/registries', { method: 'POST', token: solo, body: JSON.stringify({ name: 'blr-reg', region: 'blr1' }) }),
      422,
      'unprocessable_entity',
      'registries_create',
    );
    expect(error.message).toContain('region');
    expect((await h.api('/v2/registries', { token: solo }).then((r) => r.json())) as unknown).toEqual({ registries: [], total_storage_usage_bytes: 0 });
  });

  it('names breaking the rules are 422 naming name, on both trees’ create and validate-name', async () => {
    const bad = ['UPPER', '1digit-first', 'trailing-', '-leading', 'a'.repeat(64), 'under_score', 'dot.ted', ''];
    for (const name of bad) {
      for (const [path, body] of [
        ['/v2/registries', { name }],
        ['/v2/registry', { name, subscription_tier_slug: 'basic' }],
        ['/v2/registries/validate-name', { name }],
        ['/v2/registry/validate-name', { name }],
      ] as const) {
        const error = await expectError(await h.api(path, { method: 'POST', token: tokenB, body: JSON.stringify(body) }), 422, 'unprocessable_entity', operationFor(ops, 'POST', path));
        expect(error.message, `${path} ${JSON.stringify(name)}`).toMatch(/\bname\b/);
      }
    }
  });

  it('page and per_page out of range or not numbers are 400 bad_request naming the parameter, on every paginated operation', async () => {
    const spec = (await (await fetch(`${h.apiUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId?: string; parameters?: { name: string }[] }>> };
    const paginated = ops.filter((o) => spec.paths[o.path]![o.method.toLowerCase()]!.parameters?.some((p) => p.name === 'per_page'));
    expect(paginated.map((o) => o.operationId).sort()).toEqual(PAGINATED_OPERATIONS);
    const bad: [string, string][] = [
      ['per_page=0', 'per_page'],
      ['per_page=201', 'per_page'],
      ['per_page=abc', 'per_page'],
      ['per_page=-1', 'per_page'],
      ['per_page=2.5', 'per_page'],
      ['page=0', 'page'],
      ['page=-2', 'page'],
      ['page=abc', 'page'],
    ];
    for (const op of paginated) {
      const base = fillPath(op.path, real);
      for (const [query, field] of bad) {
        const error = await expectError(await h.api(`${base}?${query}`), 400, 'bad_request', op.operationId);
        expect(error.message, `${op.operationId}?${query}`).toMatch(new RegExp(`\\b${field}\\b`));
      }
      // The edges are accepted.
      for (const query of ['per_page=1', 'per_page=200', 'page=1']) {
        const res = await h.api(`${base}?${query}`);
        expect(res.status, `${op.operationId}?${query}`).toBe(200);
        expect(violations(op.operationId, 200, await res.json())).toEqual([]);
      }
    }
  });
});

describe('percent-encoded path parameters', () => {
  it('repository names with %2F and digests with %3A are decoded once, on both trees', async () => {
    const jwt = await h.jwt(h.token, 'repository:alpha-reg/myorg/tool:pull,push');
    const tool1 = await pushImage(h, jwt, 'alpha-reg/myorg/tool', 'a');
    await new Promise((r) => setTimeout(r, 5));
    const tool2 = await pushImage(h, jwt, 'alpha-reg/myorg/tool', 'b');
    await pushImage(h, jwt, 'alpha-reg/myorg/tool', 'c');
    for (const prefix of ['/v2/registries', '/v2/registry']) {
      const tags = await h.api(`${prefix}/alpha-reg/repositories/myorg%2Ftool/tags`);
      expect(tags.status).toBe(200);
      const body = (await tags.json()) as { tags: { repository: string; tag: string }[] };
      expect(body.tags.map((t) => t.repository)).toEqual(['myorg/tool', 'myorg/tool', 'myorg/tool']);
      const digests = await h.api(`${prefix}/alpha-reg/repositories/myorg%2Ftool/digests`);
      expect(digests.status).toBe(200);
      expect(((await digests.json()) as { manifests: unknown[] }).manifests).toHaveLength(3);
      // %61 is "a": every segment is decoded, the registry name too.
      expect((await h.api(`${prefix}/%61lpha-reg/repositories/myorg%2Ftool/tags`)).status).toBe(200);
      // Decoded exactly once: %252F is the literal "%2F", which names no repository.
      await expectError(await h.api(`${prefix}/alpha-reg/repositories/myorg%252Ftool/tags`), 404, 'not_found', `${prefix === '/v2/registries' ? 'registries' : 'registry'}_list_repositoryTags`);
    }
    // Delete a tag through the encoded name (multi tree), a manifest by %3A digest (legacy tree)
    // and by a raw-colon digest (multi tree).
    expect((await h.api('/v2/registries/alpha-reg/repositories/myorg%2Ftool/tags/c', { method: 'DELETE' })).status).toBe(204);
    expect((await h.registry('/v2/alpha-reg/myorg/tool/manifests/c', { auth: jwt })).status).toBe(404);
    expect((await h.api(`/v2/registry/alpha-reg/repositories/myorg%2Ftool/digests/${encodeURIComponent(tool1.manifest)}`, { method: 'DELETE' })).status).toBe(204);
    expect((await h.registry(`/v2/alpha-reg/myorg/tool/manifests/${tool1.manifest}`, { auth: jwt })).status).toBe(404);
    expect((await h.api(`/v2/registries/alpha-reg/repositories/myorg%2Ftool/digests/${tool2.manifest}`, { method: 'DELETE' })).status).toBe(204);
    const left = (await (await h.api('/v2/registries/alpha-reg/repositories/myorg%2Ftool/digests')).json()) as { manifests: { tags: string[] }[] };
    expect(left.manifests.map((m) => m.tags)).toEqual([[]]);
    // A digest that is not one is refused, naming the parameter.
    const error = await expectError(await h.api('/v2/registries/alpha-reg/repositories/myorg%2Ftool/digests/sha256%3Anothex', { method: 'DELETE' }), 400, 'bad_request', 'registries_delete_repositoryManifest');
    expect(error.message).toContain('manifest_digest');
    // The whole repository, by its encoded name.
    expect((await h.api('/v2/registries/alpha-reg/repositories/myorg%2Ftool', { method: 'DELETE' })).status).toBe(204);
    await expectError(await h.api('/v2/registries/alpha-reg/repositories/myorg%2Ftool/tags'), 404, 'not_found', 'registries_list_repositoryTags');
    await expectTeamAUntouched();
  });
});

describe('request ids and unknown routes', () => {
  it('every response carries X-Request-Id; an unknown route is 404 in the same envelope', async () => {
    for (const path of ['/v2/registries', '/v2/registries/alpha-reg', '/v2/registry/options']) {
      const res = await h.api(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9._:-]{8,128}$/);
      await res.arrayBuffer();
    }
    const deleted = await h.api('/v2/registries/validate-name', { method: 'POST', body: JSON.stringify({ name: 'another-free-one' }) });
    expect(deleted.status).toBe(204);
    expect(deleted.headers.get('x-request-id')).toBeTruthy();
    await expectError(await h.api('/v2/registries/alpha-reg/no-such-thing'), 404, 'not_found');
    await expectError(await h.api('/v2/registry/alpha-reg/repositories/a/b/c/tags'), 404, 'not_found');
  });
});
