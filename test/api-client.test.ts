import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, createApiClient, revokeToken, unwrap, type TraceEvent } from '../src/api-client/index.js';
import { buildOpenApiDocument } from '../src/http/api/openapi-document.js';
import { renderSchemaModule } from '../scripts/lib/api-client-schema.mjs';
import { pushImage, startHarness, type Harness } from './harness.js';

describe('the typed API client', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ rateLimitPerMinute: '40' });
  });
  afterAll(async () => h.close());

  it('is generated from the schema the server serves (run `npm run build && npm run generate:api-client` when this fails)', async () => {
    const committed = readFileSync(new URL('../src/api-client/schema.ts', import.meta.url), 'utf8');
    expect(committed).toBe(await renderSchemaModule(await buildOpenApiDocument()));
  });

  it('calls operations with typed bodies and percent-encodes path parameters', async () => {
    const api = createApiClient({ baseUrl: `${h.apiUrl}/`, token: h.token });
    const created = await unwrap(api.POST('/v2/registries', { body: { name: 'typed', subscription_tier_slug: 'professional' } }));
    expect(created.registry?.name).toBe('typed');
    const password = await h.dockerPassword('typed', { readWrite: true });
    const jwt = await h.jwt(password, 'repository:typed/shop/frontend:pull,push');
    await pushImage(h, jwt, 'typed/shop/frontend', 'v1');
    const tags = await unwrap(
      api.GET('/v2/registries/{registry_name}/repositories/{repository_name}/tags', { params: { path: { registry_name: 'typed', repository_name: 'shop/frontend' } } }),
    );
    expect(tags.tags?.map((t) => t.tag)).toEqual(['v1']);
  });

  it('turns errors into ApiError with DigitalOcean id, message and request id', async () => {
    const api = createApiClient({ baseUrl: h.apiUrl, token: h.token });
    const error = await unwrap(api.GET('/v2/registries/{registry_name}', { params: { path: { registry_name: 'nope' } } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 404, id: 'not_found' });
    expect((error as ApiError).requestId).toMatch(/.{8,}/);

    const anonymous = createApiClient({ baseUrl: h.apiUrl });
    await expect(unwrap(anonymous.GET('/v2/registries'))).rejects.toMatchObject({ status: 401, id: 'unauthorized' });
  });

  it('retries 429 as doctl does, honouring retry-after, and traces every attempt', async () => {
    const token = await h.newTeam('retry-team');
    const events: TraceEvent[] = [];
    const waits: number[] = [];
    let calls = 0;
    const api = createApiClient({
      baseUrl: h.apiUrl,
      token,
      retryMax: 2,
      retryWaitMaxMs: 50,
      onTrace: (e) => events.push(e),
      // Spend the minute's allowance, then let the client meet the 429.
      fetch: async (req) => {
        calls++;
        const res = await fetch(req);
        if (res.status === 429) waits.push(Number(res.headers.get('retry-after')));
        return res;
      },
    });
    for (let i = 0; i < 40; i++) await unwrap(api.GET('/v2/registries'));
    const error = await unwrap(api.GET('/v2/registries')).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 429, id: 'too_many_requests' });
    expect(calls).toBe(43);
    expect(waits).toHaveLength(3);
    expect(waits.every((w) => w >= 1)).toBe(true);
    expect(events.slice(-3).map((e) => [e.status, e.attempt])).toEqual([
      [429, 0],
      [429, 1],
      [429, 2],
    ]);
  });
  it('revokes a credential at the OAuth revoke endpoint, authenticated by the credential itself', async () => {
    await h.createRegistry('revoked');
    const password = await h.dockerPassword('revoked', { readWrite: true });
    expect(await h.ctx.credentials.authenticate(password)).toBeDefined();
    const events: TraceEvent[] = [];
    await revokeToken({ onTrace: (e) => events.push(e) }, `${h.apiUrl}/v1/oauth/revoke`, password);
    expect(await h.ctx.credentials.authenticate(password)).toBeUndefined();
    expect(events.map((e) => [e.method, new URL(e.url).pathname, e.status])).toEqual([['POST', '/v1/oauth/revoke', 200]]);
    // Anything but 200 is an error carrying the answer's status.
    const error = await revokeToken({}, `${h.apiUrl}/v1/oauth/nowhere`, password).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 404, id: 'not_found' });
  });
});
