import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors/index.js';
import type { GcType } from '../../gc/index.js';
import { pageLinks, requestPath } from './pagination.js';
import { presentGc } from './present.js';
import { defineRoute } from './route.js';
import { garbageCollection, gcType, links, meta, pageQuery, registryNameParam } from './schemas.js';
import { BOTH } from './variants.js';

const single = { type: 'object', properties: { garbage_collection: garbageCollection } } as const;

/** Garbage collection runs, under both trees. */
export function registerGarbageCollectionRoutes(app: FastifyInstance, ctx: AppContext, onChanged: () => void): void {
  for (const v of BOTH) {
    defineRoute<{ registry_name: string }, object, { type?: GcType } | undefined>(app, ctx, {
      method: 'POST',
      url: `${v.prefix}/:registry_name/garbage-collection`,
      operationId: `${v.operationPrefix}_run_garbageCollection`,
      summary: 'Start Garbage Collection',
      tag: v.tag,
      deprecated: v.deprecated,
      scopes: ['registry:update'],
      params: registryNameParam,
      // DigitalOcean's clients send {type} or nothing at all (dots sends no body).
      body: { type: 'object', properties: { type: gcType } },
      bodyOptional: true,
      success: { status: 201, description: 'The new run', schema: single },
      extraErrors: [409],
      async handler({ ctx, registry, params, body }) {
        const target = await registry(params.registry_name);
        const run = await ctx.gc.start(target, body?.type);
        onChanged();
        return { garbage_collection: presentGc(run) };
      },
    });

    defineRoute<{ registry_name: string }>(app, ctx, {
      method: 'GET',
      url: `${v.prefix}/:registry_name/garbage-collection`,
      operationId: `${v.operationPrefix}_get_garbageCollection`,
      summary: 'Get Active Garbage Collection',
      tag: v.tag,
      deprecated: v.deprecated,
      scopes: ['registry:read'],
      params: registryNameParam,
      success: { status: 200, description: 'The active run', schema: single },
      async handler({ ctx, registry, params }) {
        const target = await registry(params.registry_name);
        const run = await ctx.gc.active(target.id);
        if (!run) throw new AppError('NOT_FOUND', `no garbage collection is active for registry "${target.name}"`);
        return { garbage_collection: presentGc(run) };
      },
    });

    defineRoute<{ registry_name: string }, { page: number; per_page: number }>(app, ctx, {
      method: 'GET',
      url: `${v.prefix}/:registry_name/garbage-collections`,
      operationId: `${v.operationPrefix}_list_garbageCollections`,
      summary: 'List Garbage Collections',
      tag: v.tag,
      deprecated: v.deprecated,
      scopes: ['registry:read'],
      params: registryNameParam,
      querystring: { type: 'object', properties: pageQuery },
      success: {
        status: 200,
        description: 'Runs, newest first',
        schema: { type: 'object', properties: { garbage_collections: { type: 'array', items: garbageCollection }, meta, links } },
      },
      async handler({ ctx, req, registry, params, query }) {
        const target = await registry(params.registry_name);
        const { runs, total } = await ctx.gc.list(target.id, { limit: query.per_page, offset: (query.page - 1) * query.per_page });
        return {
          garbage_collections: runs.map(presentGc),
          meta: { total },
          links: pageLinks(ctx.config.apiUrl, requestPath(req), query.page, query.per_page, total),
        };
      },
    });

    defineRoute<{ registry_name: string; garbage_collection_uuid: string }, object, { cancel?: boolean }>(app, ctx, {
      method: 'PUT',
      url: `${v.prefix}/:registry_name/garbage-collection/:garbage_collection_uuid`,
      operationId: `${v.operationPrefix}_update_garbageCollection`,
      summary: 'Update Garbage Collection',
      tag: v.tag,
      deprecated: v.deprecated,
      scopes: ['registry:update'],
      params: {
        type: 'object',
        required: ['registry_name', 'garbage_collection_uuid'],
        properties: { registry_name: { type: 'string' }, garbage_collection_uuid: { type: 'string' } },
      },
      // `cancel` is optional in the reference, whose curl example sends no body: nothing to change.
      body: { type: 'object', properties: { cancel: { type: 'boolean' } } },
      bodyOptional: true,
      success: { status: 200, description: 'The run', schema: single },
      extraErrors: [412],
      async handler({ ctx, registry, params, body }) {
        const target = await registry(params.registry_name);
        const run = body.cancel ? await ctx.gc.cancel(target.id, params.garbage_collection_uuid) : await ctx.gc.get(target.id, params.garbage_collection_uuid);
        if (body.cancel) onChanged();
        return { garbage_collection: presentGc(run) };
      },
    });
  }
}
