import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RegistryAction } from '../../auth/index.js';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors/index.js';
import { truncate } from '../error-replies.js';
import { parseRepositoryName } from '../../oci/index.js';
import { authenticate } from './auth.js';
import { deleteBlob, getBlob } from './blobs.js';
import { listReferrers, listTags } from './listings.js';
import { deleteManifest, getManifest, putManifest } from './manifests.js';
import { matchOciRoute, ROUTE_METHODS, type OciRoute } from './paths.js';
import type { OciRequest } from './request.js';
import { cancelUpload, finishUpload, patchUpload, startUpload, uploadStatus } from './uploads.js';

/** Cancelling an upload is part of pushing, as in Distribution; other deletes need delete. */
function actionFor(method: string, route: OciRoute): RegistryAction {
  if (method === 'GET' || method === 'HEAD') return 'pull';
  if (method === 'DELETE' && route.kind !== 'upload') return 'delete';
  return 'push';
}

/**
 * Every `/v2/<name>/…` request: match the route, validate the name, authenticate and
 * authorise, find the registry, then hand over to one small handler.
 */
export async function dispatch(ctx: AppContext, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const rawUrl = req.raw.url ?? '/';
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const route = matchOciRoute(path);
  if (!route) throw new AppError('NOT_FOUND', `no such endpoint: ${req.method} ${truncate(path)}`);
  if (!ROUTE_METHODS[route.kind].includes(req.method)) {
    throw new AppError('UNSUPPORTED', `${req.method} is not supported on ${route.kind} endpoints`);
  }
  const name = parseRepositoryName(route.name);
  if (typeof name === 'string') throw new AppError('NAME_INVALID', name, { detail: { name: route.name.slice(0, 300) } });

  const action = actionFor(req.method, route);
  const query = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));
  let scope = `repository:${name.full}:${action === 'pull' ? 'pull' : `pull,${action}`}`;
  // A mount also needs pull on its source; ask for both at once (clients retry a challenge once).
  const from = route.kind === 'uploads' ? query.get('from') : null;
  if (from !== null && query.get('mount') !== null && typeof parseRepositoryName(from) !== 'string') scope += ` repository:${from}:pull`;
  const caller = await authenticate(ctx, req, scope);
  await caller.require(name.full, action);
  const registry = await ctx.registries.byName(name.registry);
  if (!registry || registry.team_id !== caller.teamId || (caller.registryName !== null && caller.registryName !== registry.name)) {
    throw new AppError('NAME_UNKNOWN', `repository ${name.full} is not known`, { detail: { name: name.full } });
  }
  const r: OciRequest = { ctx, req, reply, name, caller, registry, query };
  await handle(r, route, req.method);
  // Anything that may link or unlink bytes changes the registry's storage usage.
  if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'PATCH') ctx.usage.markDirty(registry.id);
}

async function handle(r: OciRequest, route: OciRoute, method: string): Promise<void> {
  switch (route.kind) {
    case 'manifest':
      if (method === 'PUT') return putManifest(r, route.reference);
      if (method === 'DELETE') return deleteManifest(r, route.reference);
      return getManifest(r, route.reference, method === 'HEAD');
    case 'blob':
      if (method === 'DELETE') return deleteBlob(r, route.digest);
      return getBlob(r, route.digest, method === 'HEAD');
    case 'uploads':
      return startUpload(r);
    case 'upload':
      if (method === 'GET') return uploadStatus(r, route.uploadId);
      if (method === 'PATCH') return patchUpload(r, route.uploadId);
      if (method === 'PUT') return finishUpload(r, route.uploadId);
      return cancelUpload(r, route.uploadId);
    case 'tags':
      return listTags(r);
    case 'referrers':
      return listReferrers(r, route.digest);
  }
}
