/**
 * The two API trees the two command trees talk to: `berth registry …` uses DigitalOcean's
 * single-registry API (`/v2/registry…`), `berth registries …` the multi-registry one
 * (`/v2/registries…`), exactly as doctl does. Where both trees have an operation its request
 * and response are the same, so one implementation serves both, over the tree's base path.
 */
import { unwrap, type ApiClient } from '../../api-client/index.js';
import type {
  DockerCredentials,
  GarbageCollection,
  GarbageCollectionType,
  Options,
  Page,
  Registry,
  RepositoryManifest,
  RepositoryTag,
  RepositoryV1,
  RepositoryV2,
  Subscription,
} from './api-types.js';
import type { TierSlug } from './vocabulary.js';

export type TreeName = 'registry' | 'registries';

/** Pages of 200 (the API's maximum), following `links.pages.next` until it runs out. */
async function everyPage<T>(fetchPage: (query: { page: number; per_page: number; page_token?: string }) => Promise<Page & { items: T[] | undefined }>): Promise<T[]> {
  const all: T[] = [];
  let query: { page: number; per_page: number; page_token?: string } = { page: 1, per_page: 200 };
  for (;;) {
    const page = await fetchPage(query);
    const items = page.items ?? [];
    all.push(...items);
    const next = page.links?.pages?.next;
    if (!next || items.length === 0) return all;
    const url = new URL(next);
    const token = url.searchParams.get('page_token');
    query = { page: Number(url.searchParams.get('page') ?? query.page + 1), per_page: query.per_page, ...(token ? { page_token: token } : {}) };
  }
}

// The legacy paths have the same parameters and bodies as these; only the prefix differs.
type MultiPath<P extends string> = `/v2/registries${P}`;

export class Tree {
  constructor(
    readonly name: TreeName,
    private readonly api: ApiClient,
  ) {}

  private path<P extends string>(suffix: P): MultiPath<P> {
    return `${this.name === 'registry' ? '/v2/registry' : '/v2/registries'}${suffix}` as MultiPath<P>;
  }

  listRepositoriesV1(registry: string): Promise<RepositoryV1[]> {
    // Only the legacy tree has v1 listings; doctl's `registries repository list` calls it too.
    return everyPage(async (query) => {
      const body = await unwrap(this.api.GET('/v2/registry/{registry_name}/repositories', { params: { path: { registry_name: registry }, query } }));
      return { ...body, items: body.repositories };
    });
  }

  listRepositoriesV2(registry: string): Promise<RepositoryV2[]> {
    return everyPage(async (query) => {
      const body = await unwrap(this.api.GET(this.path('/{registry_name}/repositoriesV2'), { params: { path: { registry_name: registry }, query } }));
      return { ...body, items: body.repositories };
    });
  }

  listTags(registry: string, repository: string): Promise<RepositoryTag[]> {
    return everyPage(async ({ page, per_page }) => {
      const body = await unwrap(
        this.api.GET(this.path('/{registry_name}/repositories/{repository_name}/tags'), {
          params: { path: { registry_name: registry, repository_name: repository }, query: { page, per_page } },
        }),
      );
      return { ...body, items: body.tags };
    });
  }

  async deleteTag(registry: string, repository: string, tag: string): Promise<void> {
    await unwrap(
      this.api.DELETE(this.path('/{registry_name}/repositories/{repository_name}/tags/{repository_tag}'), {
        params: { path: { registry_name: registry, repository_name: repository, repository_tag: tag } },
      }),
    );
  }

  listManifests(registry: string, repository: string): Promise<RepositoryManifest[]> {
    return everyPage(async ({ page, per_page }) => {
      const body = await unwrap(
        this.api.GET(this.path('/{registry_name}/repositories/{repository_name}/digests'), {
          params: { path: { registry_name: registry, repository_name: repository }, query: { page, per_page } },
        }),
      );
      return { ...body, items: body.manifests };
    });
  }

  async deleteManifest(registry: string, repository: string, digest: string): Promise<void> {
    await unwrap(
      this.api.DELETE(this.path('/{registry_name}/repositories/{repository_name}/digests/{manifest_digest}'), {
        params: { path: { registry_name: registry, repository_name: repository, manifest_digest: digest } },
      }),
    );
  }

  async startGarbageCollection(registry: string, type: GarbageCollectionType): Promise<GarbageCollection> {
    const body = await unwrap(this.api.POST(this.path('/{registry_name}/garbage-collection'), { params: { path: { registry_name: registry } }, body: { type } }));
    return body.garbage_collection ?? {};
  }

  async activeGarbageCollection(registry: string): Promise<GarbageCollection> {
    const body = await unwrap(this.api.GET(this.path('/{registry_name}/garbage-collection'), { params: { path: { registry_name: registry } } }));
    return body.garbage_collection ?? {};
  }

  listGarbageCollections(registry: string): Promise<GarbageCollection[]> {
    return everyPage(async ({ page, per_page }) => {
      const body = await unwrap(this.api.GET(this.path('/{registry_name}/garbage-collections'), { params: { path: { registry_name: registry }, query: { page, per_page } } }));
      return { ...(body as Page), items: body.garbage_collections };
    });
  }

  async cancelGarbageCollection(registry: string, uuid: string): Promise<GarbageCollection> {
    const body = await unwrap(
      this.api.PUT(this.path('/{registry_name}/garbage-collection/{garbage_collection_uuid}'), {
        params: { path: { registry_name: registry, garbage_collection_uuid: uuid } },
        body: { cancel: true },
      }),
    );
    return body.garbage_collection ?? {};
  }

  async options(): Promise<Options> {
    const body = await unwrap(this.api.GET(this.path('/options')));
    return body.options ?? {};
  }

  async subscription(): Promise<Subscription> {
    const body = await unwrap(this.api.GET(this.path('/subscription')));
    return body.subscription ?? {};
  }

  async updateSubscription(tier: TierSlug): Promise<Subscription> {
    const body = await unwrap(this.api.POST(this.path('/subscription'), { body: { tier_slug: tier } }));
    return body.subscription ?? {};
  }

  /**
   * A Docker config.json holding a new credential: team-wide on the single-registry tree,
   * for `registry` on the multi-registry one. No `expirySeconds` means it never expires.
   */
  async dockerCredentials(registry: string | undefined, options: { readWrite: boolean; expirySeconds?: number }): Promise<DockerCredentials> {
    const query = { read_write: options.readWrite, ...(options.expirySeconds !== undefined ? { expiry_seconds: options.expirySeconds } : {}) };
    if (this.name === 'registry' || registry === undefined) return unwrap(this.api.GET('/v2/registry/docker-credentials', { params: { query } }));
    return unwrap(this.api.GET('/v2/registries/{registry_name}/docker-credentials', { params: { path: { registry_name: registry }, query } }));
  }

  /** Every registry of the team (the multi-registry list, which both doctl trees use). */
  async listRegistries(): Promise<{ registries: Registry[]; total_storage_usage_bytes: number }> {
    const body = await unwrap(this.api.GET('/v2/registries'));
    return { registries: body.registries ?? [], total_storage_usage_bytes: body.total_storage_usage_bytes ?? 0 };
  }
}
