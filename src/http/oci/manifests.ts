import { AppError } from '../../errors/index.js';
import { isIndexMediaType, isValidTag, MediaType, parseDigest } from '../../oci/index.js';
import type { Manifest } from '../../db/index.js';
import { readBody } from '../read-body.js';
import { repoPath, type OciRequest } from './request.js';

function checkReference(reference: string): void {
  if (reference.includes(':')) {
    if (typeof parseDigest(reference) !== 'object') throw new AppError('DIGEST_INVALID', `"${reference}" is not a valid digest`);
  } else if (!isValidTag(reference)) {
    throw new AppError('TAG_INVALID', `"${reference}" is not a valid tag: up to 128 of [A-Za-z0-9_.-], not starting with . or -`);
  }
}

/** Media types the client accepts, or undefined when it accepts anything. */
function acceptedTypes(header: string | string[] | undefined): Set<string> | undefined {
  const values = (Array.isArray(header) ? header : [header ?? ''])
    .flatMap((h) => h.split(','))
    .map((v) => v.split(';')[0]!.trim().toLowerCase())
    .filter(Boolean);
  if (values.length === 0 || values.includes('*/*')) return undefined;
  return new Set(values);
}

/**
 * Content negotiation, as Distribution does it: a client that cannot take an index gets the
 * linux/amd64 image it lists (when pulled by tag); a client that cannot take an OCI manifest
 * is told so instead of receiving something it cannot parse.
 */
async function negotiate(r: OciRequest, repositoryId: string, manifest: Manifest, byTag: boolean): Promise<Manifest> {
  const accepts = acceptedTypes(r.req.headers.accept);
  if (!accepts || accepts.has(manifest.media_type)) return manifest;
  // Clients that send only application/json or similar generic types get what is stored.
  if (![...accepts].some((t) => t.startsWith('application/vnd.'))) return manifest;
  if (isIndexMediaType(manifest.media_type) && byTag) {
    const child = await r.ctx.manifests.defaultPlatformChild(repositoryId, manifest);
    if (child && accepts.has(child.media_type)) return child;
  }
  if (manifest.media_type === MediaType.ociManifest || manifest.media_type === MediaType.ociIndex) {
    throw new AppError('MANIFEST_UNKNOWN', `the manifest is ${manifest.media_type}, which the Accept header does not allow`, {
      detail: { mediaType: manifest.media_type },
    });
  }
  return manifest;
}

export async function getManifest(r: OciRequest, reference: string, head: boolean): Promise<void> {
  // A tag that could never exist is simply not there: 404, as clients probing names expect.
  if (!reference.includes(':') && !isValidTag(reference)) throw new AppError('MANIFEST_UNKNOWN', `manifest ${reference} is not in ${r.name.full}`, { detail: { reference } });
  checkReference(reference);
  const repository = await r.ctx.repositories.find(r.registry.id, r.name.path);
  if (!repository) throw new AppError('MANIFEST_UNKNOWN', `manifest ${reference} is not in ${r.name.full}`, { detail: { reference } });
  const stored = await r.ctx.manifests.resolve(repository.id, reference);
  const manifest = await negotiate(r, repository.id, stored, !reference.includes(':'));
  const bytes = await r.ctx.manifests.bytes(manifest);
  r.reply
    .header('Content-Type', manifest.media_type)
    .header('Docker-Content-Digest', manifest.digest)
    .header('ETag', `"${manifest.digest}"`)
    .header('Content-Length', String(bytes.length));
  if (head) {
    r.reply.status(200).send();
    return;
  }
  r.reply.status(200).send(bytes);
}

export async function putManifest(r: OciRequest, reference: string): Promise<void> {
  checkReference(reference);
  const tags = r.query.getAll('tag');
  for (const tag of tags) if (!isValidTag(tag)) throw new AppError('TAG_INVALID', `"${tag}" is not a valid tag`);
  const bytes = await readBody(r.req.raw, r.ctx.config.maxManifestBytes, 'MANIFEST_TOO_LARGE', 'the manifest');
  if (bytes.length === 0) throw new AppError('MANIFEST_INVALID', 'the manifest body is empty');
  const repository = await r.ctx.repositories.ensure(r.registry.id, r.name.path);
  const result = await r.ctx.manifests.put(repository.id, reference, bytes, String(r.req.headers['content-type'] ?? ''), tags);
  r.reply.header('Location', `${repoPath(r.name)}/manifests/${result.digest}`).header('Docker-Content-Digest', result.digest);
  if (result.subject) r.reply.header('OCI-Subject', result.subject);
  // Tags given as `?tag=` parameters are confirmed, so clients know the registry applied them.
  if (tags.length > 0) r.reply.header('OCI-Tag', [...new Set(tags)].join(', '));
  r.reply.status(201).send();
}

export async function deleteManifest(r: OciRequest, reference: string): Promise<void> {
  checkReference(reference);
  const repository = await r.ctx.repositories.find(r.registry.id, r.name.path);
  if (!repository) throw new AppError('MANIFEST_UNKNOWN', `manifest ${reference} is not in ${r.name.full}`, { detail: { reference } });
  await r.ctx.manifests.delete(repository.id, reference);
  r.reply.status(202).send();
}
