/**
 * Fresh fixtures for any published API operation, so a test can call every operation of both
 * trees with a request that must succeed: a new team per call (the legacy tree's single-registry
 * operations need a team with exactly one registry), its registry, an image pushed over the OCI
 * API into `ns/app` under tag `v1`, and an active garbage collection run where one is needed.
 */
import { randomBytes } from 'node:crypto';
import { pushImage, type Harness } from '../harness.js';
import type { Operation } from './support.js';

export interface Prepared {
  /** Full-access token of the fixture's team. */
  token: string;
  /** Decoded values of the operation's path parameters. */
  params: Record<string, string>;
  /** A JSON body that makes the operation succeed, for operations that take one. */
  body?: Record<string, unknown>;
  /** The status a correct answer has. */
  status: number;
}

let counter = 0;
export function freshName(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}-${randomBytes(3).toString('hex')}`;
}

const REPOSITORY = 'ns/app';
const TAG = 'v1';

/** Statuses DigitalOcean's reference gives each operation's success. */
function successStatus(op: Operation): number {
  if (op.method === 'DELETE' || /validate_name$/.test(op.operationId)) return 204;
  if (/_create$|_run_garbageCollection$/.test(op.operationId)) return 201;
  return 200;
}

/**
 * Sets up what `op` needs and returns how to call it. `gcActive` starts a garbage collection
 * run (GET …/garbage-collection needs one, PUT …/{uuid} names one).
 */
export async function prepare(h: Harness, op: Operation): Promise<Prepared> {
  const token = await h.newTeam(freshName('team'));
  const status = successStatus(op);
  const creates = /_create$/.test(op.operationId);
  if (creates) {
    return { token, params: {}, body: { name: freshName('new'), subscription_tier_slug: 'basic', region: 'fra1' }, status };
  }
  if (/validate_name$/.test(op.operationId)) return { token, params: {}, body: { name: freshName('free') }, status };
  if (/update_subscription$/.test(op.operationId)) return { token, params: {}, body: { tier_slug: 'professional' }, status };

  const registry = freshName('reg');
  await h.createRegistry(registry, token);
  const params: Record<string, string> = { registry_name: registry };
  if (op.params.includes('repository_name')) {
    const jwt = await h.jwt(token, `repository:${registry}/${REPOSITORY}:pull,push`);
    const image = await pushImage(h, jwt, `${registry}/${REPOSITORY}`, TAG);
    Object.assign(params, { repository_name: REPOSITORY, repository_tag: TAG, manifest_digest: image.manifest });
  }
  let body: Record<string, unknown> | undefined;
  if (/_run_garbageCollection$/.test(op.operationId)) body = { type: 'unreferenced blobs only' };
  if (/_get_garbageCollection$|_update_garbageCollection$/.test(op.operationId)) {
    const started = await h.api(`/v2/registries/${registry}/garbage-collection`, { method: 'POST', token, body: '{}' });
    if (started.status !== 201) throw new Error(`starting a garbage collection: ${started.status} ${await started.text()}`);
    params.garbage_collection_uuid = ((await started.json()) as { garbage_collection: { uuid: string } }).garbage_collection.uuid;
    if (/_update_/.test(op.operationId)) body = { cancel: true };
  }
  return { token, params, body, status };
}

/** A page token Berth issued for `registry` (repositoriesV2), after pushing two repositories to it. */
export async function issuedPageToken(h: Harness, token: string, registry: string): Promise<string> {
  for (const repository of ['first', 'second']) {
    const jwt = await h.jwt(token, `repository:${registry}/${repository}:pull,push`);
    await pushImage(h, jwt, `${registry}/${repository}`, TAG);
  }
  const res = await h.api(`/v2/registries/${registry}/repositoriesV2?per_page=1`, { token });
  const next = ((await res.json()) as { links: { pages?: { next?: string } } }).links.pages?.next;
  const pageToken = next ? new URL(next).searchParams.get('page_token') : null;
  if (!pageToken) throw new Error(`no page_token in the first page of ${registry}`);
  return pageToken;
}
