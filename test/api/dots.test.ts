/**
 * Every operation of both DigitalOcean registry APIs, driven by DigitalOcean's own TypeScript
 * client (@digitalocean/dots) against Berth, with every JSON body Berth returns checked
 * against DigitalOcean's published schemas.
 */
import { createDigitalOceanClient, DigitalOceanApiKeyAuthenticationProvider } from '@digitalocean/dots';
import { FetchRequestAdapter, KiotaClientFactory } from '@microsoft/kiota-http-fetchlibrary';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationIds, violations } from '../do-contract.js';
import { pushImage, startHarness, type Harness } from '../harness.js';

interface Exchange {
  method: string;
  path: string;
  status: number;
  body: unknown;
}

let h: Harness;
let client: ReturnType<typeof createDigitalOceanClient>;
let teamToken: string;
const exchanges: Exchange[] = [];
let routes: { method: string; pattern: RegExp; operationId: string }[] = [];

function clientFor(token: string, apiUrl: string) {
  const recordingFetch = async (url: string, init: RequestInit): Promise<Response> => {
    const res = await fetch(url, init);
    const text = await res.clone().text();
    exchanges.push({ method: (init.method ?? 'GET').toUpperCase(), path: new URL(url).pathname, status: res.status, body: text ? JSON.parse(text) : undefined });
    return res;
  };
  const adapter = new FetchRequestAdapter(new DigitalOceanApiKeyAuthenticationProvider(token), undefined, undefined, KiotaClientFactory.create(recordingFetch));
  adapter.baseUrl = apiUrl;
  return createDigitalOceanClient(adapter);
}

function operationOf(e: Exchange): string {
  const route = routes.find((r) => r.method === e.method && r.pattern.test(e.path));
  if (!route) throw new Error(`no operation serves ${e.method} ${e.path}`);
  return route.operationId;
}

async function rejects(promise: Promise<unknown>): Promise<{ id?: string; messageEscaped?: string; responseStatusCode?: number }> {
  try {
    await promise;
  } catch (err) {
    return err as { id?: string; messageEscaped?: string; responseStatusCode?: number };
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  h = await startHarness();
  const spec = (await (await fetch(`${h.apiUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId?: string }>> };
  routes = Object.entries(spec.paths).flatMap(([p, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      pattern: new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`),
      operationId: op.operationId!,
    })),
  );
  // Literal segments (`/options`, `/subscription`) win over `{registry_name}`, as on the server.
  routes.sort((a, b) => (a.pattern.source.match(/\[\^\/\]\+/g)?.length ?? 0) - (b.pattern.source.match(/\[\^\/\]\+/g)?.length ?? 0));
  teamToken = await h.newTeam('dots-team', 'starter');
  client = clientFor(teamToken, h.apiUrl);
});
afterAll(() => h.close());

describe('DigitalOcean client against Berth', () => {
  it('drives every operation of both APIs', async () => {
    const v2 = client.v2;
    // Legacy single-registry flow, as `doctl registry` uses it.
    await v2.registry.validateName.post({ name: 'dots-one' });
    const created = await v2.registry.post({ name: 'dots-one', subscriptionTierSlug: 'basic', region: 'fra1' });
    expect(created?.registry?.name).toBe('dots-one');
    expect(created?.registry?.subscription?.tier?.slug).toBe('basic');
    expect((await v2.registry.get())?.registry?.region).toBe('fra1');
    expect((await v2.registry.subscription.get())?.subscription?.tier?.slug).toBe('basic');
    const legacyOptions = await v2.registry.optionsPath.get();
    expect(legacyOptions?.options?.availableRegions).toContain('nyc3');
    expect(legacyOptions?.options?.subscriptionTiers?.map((t: { slug?: string }) => t.slug)).toEqual(['starter', 'basic', 'professional']);
    const upgraded = await v2.registries.subscription.post({ tierSlug: 'professional' });
    expect(upgraded?.subscription?.tier?.slug).toBe('professional');
    expect((await v2.registry.subscription.post({ tierSlug: 'professional' }))?.subscription?.tier?.slug).toBe('professional');
    const legacyCreds = await v2.registry.dockerCredentials.get({ queryParameters: { readWrite: true, expirySeconds: 600 } });
    expect(legacyCreds?.auths).toBeDefined();

    // Multi-registry API.
    await v2.registries.validateName.post({ name: 'dots-two' });
    expect((await v2.registries.post({ name: 'dots-two', region: 'sgp1' }))?.registry?.region).toBe('sgp1');
    expect((await v2.registries.get())?.registries?.map((r: { name?: string }) => r.name)).toEqual(['dots-one', 'dots-two']);
    expect((await v2.registries.byRegistry_name('dots-two').get())?.registry?.name).toBe('dots-two');
    expect((await v2.registries.optionsPath.get())?.options?.subscriptionTiers?.length).toBe(3);
    expect((await v2.registries.subscription.get())?.subscription?.tier?.slug).toBe('professional');
    await v2.registries.byRegistry_name('dots-two').dockerCredentials.get();
    const multiple = await rejects(v2.registry.get());
    expect(multiple.responseStatusCode).toBe(412);

    // Content, pushed through the registry listener.
    const jwt = await h.jwt(teamToken, 'repository:dots-one/app:pull,push', 'repository:dots-one/team/tool:pull,push', 'repository:dots-one/other:pull,push');
    await pushImage(h, jwt, 'dots-one/app', 'v1');
    const v2image = await pushImage(h, jwt, 'dots-one/app', 'v2');
    await pushImage(h, jwt, 'dots-one/team/tool', 'latest');
    await pushImage(h, jwt, 'dots-one/other', 'x');

    const byName = v2.registries.byRegistry_name('dots-one');
    const legacy = v2.registry.byRegistry_name('dots-one');
    const page1 = await byName.repositoriesV2.get({ queryParameters: { perPage: 2 } });
    expect(page1?.repositories?.map((r: { name?: string }) => r.name)).toEqual(['app', 'other']);
    expect(page1?.meta?.total).toBe(3);
    const next = exchanges.findLast((e) => e.path.endsWith('/repositoriesV2'))!.body as { links: { pages: { next: string } } };
    const token = new URL(next.links.pages.next).searchParams.get('page_token')!;
    const page2 = await legacy.repositoriesV2.get({ queryParameters: { perPage: 2, page: 2, pageToken: token } });
    expect(page2?.repositories?.map((r: { name?: string }) => r.name)).toEqual(['team/tool']);
    const v1 = await legacy.repositories.get({ queryParameters: { perPage: 20 } });
    expect(v1?.repositories?.find((r: { name?: string }) => r.name === 'app')?.latestTag?.tag).toBe('v2');

    for (const tree of [byName, legacy]) {
      const tags = await tree.repositories.byRepository_name('app').tags.get();
      expect(tags?.tags?.map((t: { tag?: string }) => t.tag)).toEqual(['v2', 'v1']);
      const digests = await tree.repositories.byRepository_name('app').digests.get();
      expect(digests?.manifests?.length).toBe(2);
    }
    await byName.repositories.byRepository_name('app').tags.byRepository_tag('v1').delete();
    await legacy.repositories.byRepository_name('app').digests.byManifest_digest(v2image.manifest).delete();
    await legacy.repositories.byRepository_name('team/tool').tags.byRepository_tag('latest').delete();
    const v1image = (await byName.repositories.byRepository_name('app').digests.get())?.manifests?.[0]?.digest as string;
    await byName.repositories.byRepository_name('app').digests.byManifest_digest(v1image).delete();
    await byName.repositories.byRepository_name('other').delete();
    expect((await byName.repositoriesV2.get())?.meta?.total).toBe(1);

    // Garbage collection.
    const run = await byName.garbageCollection.post();
    expect(run?.garbageCollection?.registryName).toBe('dots-one');
    for (const tree of [byName, legacy]) {
      const active = await tree.garbageCollection.get().catch(() => undefined);
      if (active) expect(active.garbageCollection?.uuid).toBe(run?.garbageCollection?.uuid);
    }
    const cancelled = await byName.garbageCollection.byGarbage_collection_uuid(run!.garbageCollection!.uuid!).put({ cancel: true }).catch(() => undefined);
    if (cancelled) expect(['cancelling', 'cancelled', 'succeeded']).toContain(cancelled.garbageCollection?.status);
    for (let i = 0; i < 100 && (await byName.garbageCollection.get().catch(() => undefined)); i++) await new Promise((r) => setTimeout(r, 100));
    const second = await legacy.garbageCollection.post({ type: 'untagged manifests and unreferenced blobs' });
    expect(second?.garbageCollection?.status).toBeDefined();
    const list = await legacy.garbageCollections.get({ queryParameters: { perPage: 10 } });
    expect(list?.garbageCollections?.length).toBeGreaterThanOrEqual(2);
    expect((await byName.garbageCollections.get())?.garbageCollections?.length).toBeGreaterThanOrEqual(2);
    await legacy.garbageCollection.byGarbage_collection_uuid(second!.garbageCollection!.uuid!).put({ cancel: true }).catch(() => undefined);

    // Removal, legacy last: it needs exactly one registry.
    await v2.registries.byRegistry_name('dots-two').delete();
    await v2.registry.delete();
    expect((await v2.registries.get())?.registries).toEqual([]);
  });

  it('returned only bodies that match DigitalOcean’s schemas, for every operation', () => {
    const problems = exchanges.flatMap((e) => violations(operationOf(e), e.status, e.body));
    expect(problems).toEqual([]);
    const exercised = new Set(exchanges.filter((e) => e.status < 400).map(operationOf));
    expect(operationIds().filter((id) => !exercised.has(id))).toEqual([]);
  });
});
