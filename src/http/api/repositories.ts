import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors/index.js';
import { parseDigest } from '../../oci/index.js';
import { decodePageToken, encodePageToken, pageLinks, requestPath } from './pagination.js';
import { presentManifest, presentRepositoryV1, presentRepositoryV2, presentTag } from './present.js';
import { defineRoute, type ApiCall } from './route.js';
import { links, meta, pageQuery, registryNameParam, repositoryManifest, repositoryTag, repositoryV1, repositoryV2 } from './schemas.js';
import { BOTH, LEGACY, MULTI } from './variants.js';

type RepoParams = { registry_name: string; repository_name: string };
type PageQuery = { page: number; per_page: number };

const repoParams = {
  type: 'object',
  required: ['registry_name', 'repository_name'],
  properties: { registry_name: { type: 'string' }, repository_name: { type: 'string' } },
} as const;
const listOf = (key: string, item: object) => ({ type: 'object', required: ['meta'], properties: { [key]: { type: 'array', items: item }, meta, links } });

async function repositoryOf(call: ApiCall<RepoParams, unknown, unknown>) {
  const registry = await call.registry(call.params.registry_name);
  const repository = await call.ctx.inventory.findRepository(registry.id, call.params.repository_name);
  return { registry, repository };
}

/** Repositories, tags and manifests of a registry, under both trees. */
export function registerRepositoryRoutes(app: FastifyInstance, ctx: AppContext): void {
  for (const v of BOTH) {
    defineRoute<{ registry_name: string }, PageQuery & { page_token?: string }>(app, ctx, {
      method: 'GET',
      url: `${v.prefix}/:registry_name/repositoriesV2`,
      operationId: `${v.operationPrefix}_list_repositoriesV2`,
      summary: 'List All Container Registry Repositories (V2)',
      tag: v.tag,
      deprecated: v.deprecated,
      scopes: ['registry:read'],
      params: registryNameParam,
      querystring: { type: 'object', properties: { ...pageQuery, page_token: { type: 'string', maxLength: 2048 } } },
      success: { status: 200, description: 'Repositories', schema: listOf('repositories', repositoryV2) },
      async handler(call) {
        const { ctx, query, params } = call;
        const registry = await call.registry(params.registry_name);
        const total = await ctx.inventory.countRepositories(registry.id);
        let after: string | undefined;
        if (query.page_token !== undefined) {
          after = decodePageToken(query.page_token);
          if (after === undefined) throw new AppError('BAD_REQUEST', 'page_token: not a token this API issued');
        }
        // By token: one row more than the page tells whether anything follows the cursor.
        const keyset = query.page_token !== undefined;
        const window = keyset ? { limit: query.per_page + 1, after } : { limit: query.per_page, offset: (query.page - 1) * query.per_page };
        const rows = await ctx.inventory.listRepositories(registry.id, window);
        const repositories = rows.slice(0, query.per_page);
        const last = repositories.at(-1);
        const extra: Record<string, string> = last ? { page_token: encodePageToken(last.name) } : {};
        return {
          repositories: repositories.map((r) => presentRepositoryV2(registry.name, r)),
          meta: { total },
          links: pageLinks(ctx.config.apiUrl, requestPath(call.req), query.page, query.per_page, total, extra, keyset ? rows.length > query.per_page : undefined),
        };
      },
    });

    defineRoute<RepoParams, PageQuery>(app, ctx, {
      method: 'GET',
      url: `${v.prefix}/:registry_name/repositories/:repository_name/tags`,
      operationId: `${v.operationPrefix}_list_repositoryTags`,
      summary: 'List All Container Registry Repository Tags',
      tag: v.tag,
      deprecated: v.deprecated,
      scopes: ['registry:read'],
      params: repoParams,
      querystring: { type: 'object', properties: pageQuery },
      success: { status: 200, description: 'Tags, newest first', schema: listOf('tags', repositoryTag) },
      async handler(call) {
        const { registry, repository } = await repositoryOf(call);
        const { page, per_page: perPage } = call.query;
        const total = await call.ctx.inventory.countTags(repository.id);
        const tags = await call.ctx.inventory.listTags(repository, { limit: perPage, offset: (page - 1) * perPage });
        return { tags: tags.map((t) => presentTag(registry.name, t)), meta: { total }, links: pageLinks(call.ctx.config.apiUrl, requestPath(call.req), page, perPage, total) };
      },
    });

    defineRoute<RepoParams & { repository_tag: string }>(app, ctx, {
      method: 'DELETE',
      url: `${v.prefix}/:registry_name/repositories/:repository_name/tags/:repository_tag`,
      operationId: `${v.operationPrefix}_delete_repositoryTag`,
      summary: 'Delete Container Registry Repository Tag',
      tag: v.tag,
      deprecated: v.deprecated,
      scopes: ['registry:delete'],
      params: { type: 'object', required: [...repoParams.required, 'repository_tag'], properties: { ...repoParams.properties, repository_tag: { type: 'string' } } },
      success: { status: 204, description: 'Deleted' },
      async handler(call) {
        const { registry, repository } = await repositoryOf(call);
        if (call.params.repository_tag.includes(':')) throw new AppError('NOT_FOUND', `tag "${call.params.repository_tag}" not found`);
        await call.ctx.manifests.delete(repository.id, call.params.repository_tag);
        call.ctx.usage.markDirty(registry.id);
      },
    });

    defineRoute<RepoParams, PageQuery>(app, ctx, {
      method: 'GET',
      url: `${v.prefix}/:registry_name/repositories/:repository_name/digests`,
      operationId: `${v.operationPrefix}_list_repositoryManifests`,
      summary: 'List All Container Registry Repository Manifests',
      tag: v.tag,
      deprecated: v.deprecated,
      scopes: ['registry:read'],
      params: repoParams,
      querystring: { type: 'object', properties: pageQuery },
      success: { status: 200, description: 'Manifests, tagged or not, newest first', schema: listOf('manifests', repositoryManifest) },
      async handler(call) {
        const { registry, repository } = await repositoryOf(call);
        const { page, per_page: perPage } = call.query;
        const total = await call.ctx.inventory.countManifests(repository.id);
        const manifests = await call.ctx.inventory.listManifests(repository, { limit: perPage, offset: (page - 1) * perPage });
        return {
          manifests: manifests.map((m) => presentManifest(registry.name, m)),
          meta: { total },
          links: pageLinks(call.ctx.config.apiUrl, requestPath(call.req), page, perPage, total),
        };
      },
    });

    defineRoute<RepoParams & { manifest_digest: string }>(app, ctx, {
      method: 'DELETE',
      url: `${v.prefix}/:registry_name/repositories/:repository_name/digests/:manifest_digest`,
      operationId: `${v.operationPrefix}_delete_repositoryManifest`,
      summary: 'Delete Container Registry Repository Manifest',
      tag: v.tag,
      deprecated: v.deprecated,
      scopes: ['registry:delete'],
      params: { type: 'object', required: [...repoParams.required, 'manifest_digest'], properties: { ...repoParams.properties, manifest_digest: { type: 'string' } } },
      success: { status: 204, description: 'Deleted, with its tags' },
      async handler(call) {
        const { registry, repository } = await repositoryOf(call);
        if (typeof parseDigest(call.params.manifest_digest) !== 'object') throw new AppError('BAD_REQUEST', `manifest_digest: "${call.params.manifest_digest}" is not a digest`);
        await call.ctx.manifests.delete(repository.id, call.params.manifest_digest);
        call.ctx.usage.markDirty(registry.id);
      },
    });
  }

  defineRoute<RepoParams>(app, ctx, {
    method: 'DELETE',
    url: `${MULTI.prefix}/:registry_name/repositories/:repository_name`,
    operationId: 'registries_delete_repository',
    summary: 'Delete a Container Registry Repository',
    tag: MULTI.tag,
    scopes: ['registry:delete'],
    params: repoParams,
    success: { status: 204, description: 'Deleted, with all of its tags and manifests' },
    async handler(call) {
      const registry = await call.registry(call.params.registry_name);
      await call.ctx.inventory.deleteRepository(registry.id, call.params.repository_name);
      call.ctx.usage.markDirty(registry.id);
    },
  });

  defineRoute<{ registry_name: string }, PageQuery>(app, ctx, {
    method: 'GET',
    url: `${LEGACY.prefix}/:registry_name/repositories`,
    operationId: 'registry_list_repositories',
    summary: 'List All Container Registry Repositories',
    tag: LEGACY.tag,
    deprecated: true,
    scopes: ['registry:read'],
    params: registryNameParam,
    querystring: { type: 'object', properties: pageQuery },
    success: { status: 200, description: 'Repositories with their latest tag', schema: listOf('repositories', repositoryV1) },
    async handler(call) {
      const registry = await call.registry(call.params.registry_name);
      const { page, per_page: perPage } = call.query;
      const total = await call.ctx.inventory.countRepositories(registry.id);
      const repositories = await call.ctx.inventory.listRepositories(registry.id, { limit: perPage, offset: (page - 1) * perPage });
      return {
        repositories: repositories.map((r) => presentRepositoryV1(registry.name, r)),
        meta: { total },
        links: pageLinks(call.ctx.config.apiUrl, requestPath(call.req), page, perPage, total),
      };
    },
  });
}
