/**
 * Pagination of every paginated list (tags, digests, repositories v1, repositoriesV2 and
 * garbage collections), on both trees: meta.total, only the links that make sense, absolute
 * URLs built from --api-url, and repositoriesV2's page_token as a keyset cursor that stays
 * correct while repositories come and go between pages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { violations } from '../do-contract.js';
import { pushImage, startHarness, type Harness } from '../harness.js';
import { expectError, sleep } from './support.js';

const PUBLIC = 'https://registry-api.example.com';

interface Page {
  items: Record<string, unknown>[];
  total: number;
  pages: Record<string, string> | undefined;
  body: Record<string, unknown>;
}

let h: Harness;
let jwt: string;
const manifests: string[] = [];
const gcRuns: string[] = [];

async function getPage(pathAndQuery: string, key: string, operationId: string): Promise<Page> {
  const res = await h.api(pathAndQuery);
  const text = await res.text();
  expect(res.status, `${pathAndQuery}: ${text}`).toBe(200);
  const body = JSON.parse(text) as Record<string, unknown> & { meta: { total: number }; links?: { pages?: Record<string, string> } };
  expect(violations(operationId, 200, body), pathAndQuery).toEqual([]);
  return { items: body[key] as Record<string, unknown>[], total: body.meta.total, pages: body.links?.pages, body };
}

/** A public link as a local request: same path and query, on the harness's listener. */
function local(link: string): string {
  expect(link.startsWith(`${PUBLIC}/`), link).toBe(true);
  return link.slice(PUBLIC.length);
}

function link(path: string, page: number, perPage: number): string {
  return `${PUBLIC}${path}?page=${page}&per_page=${perPage}`;
}

/** The links page `page` of `last` must carry, exactly (page_token aside). */
function expectLinks(pages: Record<string, string> | undefined, path: string, page: number, last: number, perPage: number, label: string): void {
  if (last <= 1 && page <= 1) {
    expect(pages, label).toBeUndefined();
    return;
  }
  const expected: Record<string, string> = {};
  if (page > 1) {
    expected.first = link(path, 1, perPage);
    expected.prev = link(path, Math.min(page - 1, last), perPage);
  }
  if (page < last) {
    expected.next = link(path, page + 1, perPage);
    expected.last = link(path, last, perPage);
  }
  const withoutToken = Object.fromEntries(
    Object.entries(pages ?? {}).map(([k, v]) => {
      const u = new URL(v);
      u.searchParams.delete('page_token');
      return [k, `${u.origin}${u.pathname}?${u.searchParams}`];
    }),
  );
  expect(withoutToken, label).toEqual(expected);
}

/** Walks all pages by page number, checking total and links; returns the items in order. */
async function walk(path: string, key: string, operationId: string, perPage: number, total: number): Promise<Record<string, unknown>[]> {
  const last = Math.max(1, Math.ceil(total / perPage));
  const all: Record<string, unknown>[] = [];
  for (let page = 1; page <= last; page++) {
    const p = await getPage(`${path}?page=${page}&per_page=${perPage}`, key, operationId);
    expect(p.total, `${path} page ${page}`).toBe(total);
    expect(p.items.length, `${path} page ${page}`).toBe(page < last ? perPage : total - perPage * (last - 1));
    expectLinks(p.pages, path, page, last, perPage, `${path} page ${page} of ${last}`);
    all.push(...p.items);
  }
  // Following the links from page 1 visits the same pages.
  const followed: Record<string, unknown>[] = [];
  let next: string | undefined = `${path}?per_page=${perPage}`;
  while (next) {
    const p = await getPage(next, key, operationId);
    followed.push(...p.items);
    next = p.pages?.next === undefined ? undefined : local(p.pages.next);
  }
  expect(followed).toEqual(all);
  return all;
}

beforeAll(async () => {
  h = await startHarness({ apiUrl: PUBLIC, rateLimitPerMinute: '100000', rateLimitPerHour: '1000000' });
  await h.createRegistry('pages');
  jwt = await h.jwt(h.token, ...['app', 'team/tool', 'r-b', 'r-d', 'r-f', 'r-h'].map((r) => `repository:pages/${r}:pull,push`));
  for (let i = 1; i <= 5; i++) {
    manifests.push((await pushImage(h, jwt, 'pages/app', `t${i}`)).manifest);
    await sleep(3);
  }
  for (const r of ['r-h', 'r-b', 'team/tool', 'r-f', 'r-d']) await pushImage(h, jwt, `pages/${r}`, 'latest');
  for (let i = 0; i < 5; i++) {
    const started = await h.api('/v2/registries/pages/garbage-collection', { method: 'POST' });
    expect(started.status).toBe(201);
    const uuid = ((await started.json()) as { garbage_collection: { uuid: string } }).garbage_collection.uuid;
    gcRuns.push(uuid);
    expect((await h.api(`/v2/registries/pages/garbage-collection/${uuid}`, { method: 'PUT', body: JSON.stringify({ cancel: true }) })).status).toBe(200);
    await sleep(3);
  }
});
afterAll(() => h?.close());

describe('page-number pagination across pages, on both trees', () => {
  for (const prefix of ['/v2/registries', '/v2/registry']) {
    const op = prefix === '/v2/registries' ? 'registries' : 'registry';

    it(`${prefix}: tags, newest first`, async () => {
      const path = `${prefix}/pages/repositories/app/tags`;
      const tags = await walk(path, 'tags', `${op}_list_repositoryTags`, 2, 5);
      expect(tags.map((t) => t.tag)).toEqual(['t5', 't4', 't3', 't2', 't1']);
      expect(tags.map((t) => t.manifest_digest)).toEqual([...manifests].reverse());
      expect(await walk(path, 'tags', `${op}_list_repositoryTags`, 4, 5)).toEqual(tags);
      expect(await walk(path, 'tags', `${op}_list_repositoryTags`, 5, 5)).toEqual(tags);
      expect(await walk(path, 'tags', `${op}_list_repositoryTags`, 200, 5)).toEqual(tags);
    });

    it(`${prefix}: digests, newest first`, async () => {
      const path = `${prefix}/pages/repositories/app/digests`;
      const all = await walk(path, 'manifests', `${op}_list_repositoryManifests`, 2, 5);
      expect(all.map((m) => m.digest)).toEqual([...manifests].reverse());
      expect(await walk(path, 'manifests', `${op}_list_repositoryManifests`, 1, 5)).toEqual(all);
    });

    it(`${prefix}: repositoriesV2, by name`, async () => {
      const path = `${prefix}/pages/repositoriesV2`;
      const all = await walk(path, 'repositories', `${op}_list_repositoriesV2`, 2, 6);
      expect(all.map((r) => r.name)).toEqual(['app', 'r-b', 'r-d', 'r-f', 'r-h', 'team/tool']);
      expect(await walk(path, 'repositories', `${op}_list_repositoriesV2`, 4, 6)).toEqual(all);
      expect(await walk(path, 'repositories', `${op}_list_repositoriesV2`, 6, 6)).toEqual(all);
    });

    it(`${prefix}: garbage collections, newest first`, async () => {
      const path = `${prefix}/pages/garbage-collections`;
      const all = await walk(path, 'garbage_collections', `${op}_list_garbageCollections`, 2, 5);
      expect(all.map((g) => g.uuid)).toEqual([...gcRuns].reverse());
      expect(all.map((g) => g.status)).toEqual(Array(5).fill('cancelled'));
      expect(await walk(path, 'garbage_collections', `${op}_list_garbageCollections`, 3, 5)).toEqual(all);
    });
  }

  it('/v2/registry: repositories (v1) with their latest tag', async () => {
    const path = '/v2/registry/pages/repositories';
    const all = await walk(path, 'repositories', 'registry_list_repositories', 2, 6);
    expect(all.map((r) => r.name)).toEqual(['app', 'r-b', 'r-d', 'r-f', 'r-h', 'team/tool']);
    expect(all.map((r) => (r.latest_tag as { tag: string }).tag)).toEqual(['t5', 'latest', 'latest', 'latest', 'latest', 'latest']);
    expect(all.map((r) => r.tag_count)).toEqual([5, 1, 1, 1, 1, 1]);
  });

  it('links keep the percent-encoded path as requested', async () => {
    const jwtTool = await h.jwt(h.token, 'repository:pages/team/tool:pull,push');
    await pushImage(h, jwtTool, 'pages/team/tool', 'second');
    const path = '/v2/registries/pages/repositories/team%2Ftool/tags';
    const p = await getPage(`${path}?per_page=1`, 'tags', 'registries_list_repositoryTags');
    expect(p.total).toBe(2);
    expect(p.pages).toEqual({ next: link(path, 2, 1), last: link(path, 2, 1) });
    expect((await walk(path, 'tags', 'registries_list_repositoryTags', 1, 2)).map((t) => t.tag)).toEqual(['second', 'latest']);
    expect((await h.api('/v2/registries/pages/repositories/team%2Ftool/tags/second', { method: 'DELETE' })).status).toBe(204);
  });

  it('the default is 20 per page: one page, no links at all', async () => {
    for (const [path, key, op] of [
      ['/v2/registries/pages/repositories/app/tags', 'tags', 'registries_list_repositoryTags'],
      ['/v2/registry/pages/repositories/app/digests', 'manifests', 'registry_list_repositoryManifests'],
      ['/v2/registries/pages/repositoriesV2', 'repositories', 'registries_list_repositoriesV2'],
      ['/v2/registry/pages/repositories', 'repositories', 'registry_list_repositories'],
      ['/v2/registries/pages/garbage-collections', 'garbage_collections', 'registries_list_garbageCollections'],
    ] as const) {
      const p = await getPage(path, key, op);
      expect(p.items.length, path).toBe(p.total);
      expect(p.pages, path).toBeUndefined();
      expect(p.body.links ?? {}, path).toEqual({});
    }
  });

  it('a page past the end is empty, keeps the total and links back only', async () => {
    const path = '/v2/registries/pages/repositories/app/tags';
    const p = await getPage(`${path}?page=9&per_page=2`, 'tags', 'registries_list_repositoryTags');
    expect(p.items).toEqual([]);
    expect(p.total).toBe(5);
    expect(p.pages).toEqual({ first: link(path, 1, 2), prev: link(path, 3, 2) });
  });

  it('an empty list has total 0 and no links', async () => {
    await h.createRegistry('empty-pages');
    for (const path of ['/v2/registries/empty-pages/repositoriesV2', '/v2/registry/empty-pages/repositories', '/v2/registries/empty-pages/garbage-collections']) {
      const res = await h.api(`${path}?per_page=1`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { meta: { total: number }; links?: { pages?: unknown } };
      expect(body.meta.total).toBe(0);
      expect(body.links?.pages).toBeUndefined();
    }
  });
});

describe('repositoriesV2 page_token', () => {
  async function pushRepos(registry: string, names: string[]): Promise<void> {
    const token = await h.jwt(h.token, ...names.map((n) => `repository:${registry}/${n}:pull,push`));
    for (const n of names) await pushImage(h, token, `${registry}/${n}`, 'latest');
  }
  async function deleteRepo(registry: string, name: string): Promise<void> {
    expect((await h.api(`/v2/registries/${registry}/repositories/${encodeURIComponent(name)}`, { method: 'DELETE' })).status).toBe(204);
  }
  /** Follows `next` from `start` to the end; every page reached by a link must hold something. */
  async function follow(start: string): Promise<string[]> {
    const names: string[] = [];
    let next: string | undefined = start;
    let hops = 0;
    while (next) {
      const p = await getPage(next, 'repositories', 'registries_list_repositoriesV2');
      if (hops > 0) expect(p.items.length, `page reached through a next link: ${next}`).toBeGreaterThan(0);
      names.push(...p.items.map((r) => r.name as string));
      next = p.pages?.next === undefined ? undefined : local(p.pages.next);
      expect(++hops).toBeLessThan(20);
    }
    return names;
  }

  it('the next link carries page, page_token and per_page, in DigitalOcean’s order', async () => {
    const p = await getPage('/v2/registries/pages/repositoriesV2?per_page=2', 'repositories', 'registries_list_repositoriesV2');
    const next = new URL(p.pages!.next!);
    expect([...next.searchParams.keys()]).toEqual(['page', 'page_token', 'per_page']);
    expect(next.searchParams.get('page')).toBe('2');
    expect(next.searchParams.get('page_token')).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(p.pages!.last).toBe(link('/v2/registries/pages/repositoriesV2', 3, 2));
    // page is ignored when page_token is given: the token decides where the page starts.
    const viaToken = await getPage(`/v2/registries/pages/repositoriesV2?page=1&per_page=2&page_token=${next.searchParams.get('page_token')}`, 'repositories', 'registries_list_repositoriesV2');
    expect(viaToken.items.map((r) => r.name)).toEqual(['r-d', 'r-f']);
  });

  it('repositories removed before the cursor do not make later ones disappear', async () => {
    await h.createRegistry('keyset-a');
    await pushRepos('keyset-a', ['b', 'd', 'f', 'h', 'j']);
    const first = await getPage('/v2/registries/keyset-a/repositoriesV2?per_page=2', 'repositories', 'registries_list_repositoriesV2');
    expect(first.items.map((r) => r.name)).toEqual(['b', 'd']);
    // Between pages: both repositories of page 1 go away and one appears after the cursor.
    await deleteRepo('keyset-a', 'b');
    await deleteRepo('keyset-a', 'd');
    await pushRepos('keyset-a', ['e']);
    const rest = await follow(local(first.pages!.next!));
    // f, h and j existed throughout: each is seen exactly once; e is new and may be seen.
    for (const name of ['f', 'h', 'j']) expect(rest.filter((n) => n === name), `${name} in ${rest.join(',')}`).toHaveLength(1);
    expect(rest).not.toContain('b');
    expect(rest).not.toContain('d');
    expect(rest).toEqual(['e', 'f', 'h', 'j']);
  });

  it('repositories added before the cursor are neither repeated nor followed by an empty page', async () => {
    await h.createRegistry('keyset-b');
    await pushRepos('keyset-b', ['b', 'd', 'f', 'h', 'j']);
    const first = await getPage('/v2/registries/keyset-b/repositoriesV2?per_page=2', 'repositories', 'registries_list_repositoriesV2');
    expect(first.items.map((r) => r.name)).toEqual(['b', 'd']);
    await pushRepos('keyset-b', ['a', 'c', 'c2']);
    await deleteRepo('keyset-b', 'h');
    const rest = await follow(local(first.pages!.next!));
    expect(rest).toEqual(['f', 'j']);
    // Offset paging would have served "d" again (page 3 is [d, f]) and never reached "j" on page 3.
    const byOffset = await getPage('/v2/registries/keyset-b/repositoriesV2?page=3&per_page=2', 'repositories', 'registries_list_repositoriesV2');
    expect(byOffset.items.map((r) => r.name)).toEqual(['d', 'f']);
    expect(byOffset.total).toBe(7);
  });

  it('the last page reached by token has no next link, and its first/prev point back', async () => {
    const p1 = await getPage('/v2/registry/pages/repositoriesV2?per_page=4', 'repositories', 'registry_list_repositoriesV2');
    expect(p1.items.map((r) => r.name)).toEqual(['app', 'r-b', 'r-d', 'r-f']);
    const p2 = await getPage(local(p1.pages!.next!), 'repositories', 'registry_list_repositoriesV2');
    expect(p2.items.map((r) => r.name)).toEqual(['r-h', 'team/tool']);
    expect(p2.pages).toEqual({ first: link('/v2/registry/pages/repositoriesV2', 1, 4), prev: link('/v2/registry/pages/repositoriesV2', 1, 4) });
  });

  it('a page_token Berth did not issue is 400 bad_request naming page_token', async () => {
    for (const token of ['garbage!!', 'not-base64-json', Buffer.from(JSON.stringify({ after: 5 })).toString('base64url'), Buffer.from('[1,2]').toString('base64url')]) {
      for (const prefix of ['/v2/registries', '/v2/registry']) {
        const op = prefix === '/v2/registries' ? 'registries_list_repositoriesV2' : 'registry_list_repositoriesV2';
        const error = await expectError(await h.api(`${prefix}/pages/repositoriesV2?page_token=${encodeURIComponent(token)}`), 400, 'bad_request', op);
        expect(error.message, token).toContain('page_token');
      }
    }
    const long = await expectError(await h.api(`/v2/registries/pages/repositoriesV2?page_token=${'a'.repeat(3000)}`), 400, 'bad_request', 'registries_list_repositoriesV2');
    expect(long.message).toContain('page_token');
  });
});
