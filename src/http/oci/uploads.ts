import type { IncomingMessage } from 'node:http';
import { AppError } from '../../errors/index.js';
import { parseRepositoryName } from '../../oci/index.js';
import { challenge } from './auth.js';
import { checkDigest } from './blobs.js';
import { repoPath, type OciRequest } from './request.js';

/**
 * Upload URLs carry the offset they were issued for, so a client retrying an older URL (or a
 * chunk at the wrong place) gets 416 with the real Range instead of corrupting the blob.
 */
function uploadLocation(r: OciRequest, uploadId: string, offset: number): string {
  return `${repoPath(r.name)}/blobs/uploads/${uploadId}?_state=${offset}`;
}

function setUploadHeaders(r: OciRequest, uploadId: string, offset: number): void {
  r.reply
    .header('Location', uploadLocation(r, uploadId, offset))
    .header('Docker-Upload-UUID', uploadId)
    .header('Range', `0-${Math.max(0, offset - 1)}`)
    .header('Content-Length', '0');
}

/** The body's declared length, when it has one (not for chunked transfer encoding). */
function declaredLength(req: IncomingMessage): number | undefined {
  const length = req.headers['content-length'];
  return length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
}

/**
 * Hands the request body to the domain to stream. The domain may stop reading part-way (the
 * team's storage allowance is spent, say): the body is then left unread rather than destroyed,
 * so the refusal still reaches the client, and the answer closes the connection instead of
 * waiting for the rest of a body nobody will read.
 */
async function streamBody<T>(r: OciRequest, work: (body: AsyncIterable<Buffer>, length: number | undefined) => Promise<T>): Promise<T> {
  const raw = r.req.raw;
  try {
    return await work(raw.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>, declaredLength(raw));
  } catch (err) {
    if (!raw.complete) r.reply.header('Connection', 'close');
    throw err;
  }
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

/** Where the client believes this chunk starts: Content-Range first, then the URL's state. */
function claimedStart(r: OciRequest): number | undefined {
  const header = r.req.headers['content-range'];
  if (header) {
    const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
    if (!m) throw new AppError('RANGE_INVALID', `malformed Content-Range "${header}"; expected <start>-<end>`);
    const start = Number(m[1]);
    const end = Number(m[2]);
    const length = r.req.headers['content-length'];
    if (end < start || (length !== undefined && Number(length) !== end - start + 1)) {
      throw new AppError('RANGE_INVALID', `Content-Range ${header} does not match Content-Length ${length ?? '(none)'}`);
    }
    return start;
  }
  const state = r.query.get('_state');
  return state !== null && /^\d+$/.test(state) ? Number(state) : undefined;
}

export async function startUpload(r: OciRequest): Promise<void> {
  const repository = await r.ctx.repositories.ensure(r.registry.id, r.name.path);
  const mount = r.query.get('mount');
  const from = r.query.get('from');
  if (mount !== null) {
    checkDigest(mount);
    const source = from !== null ? await mountableFrom(r, from) : await r.ctx.repositories.findHolding(await r.caller.pullableRegistryIds(), mount, repository.id);
    if (source && (await mountFrom(r, repository.id, source, mount))) return;
  }
  const digest = r.query.get('digest');
  if (digest !== null) {
    const blob = await streamBody(r, (body, length) => r.ctx.uploads.putMonolithic(repository.id, digest, body, length));
    r.reply
      .status(201)
      .header('Location', `${repoPath(r.name)}/blobs/${blob.digest}`)
      .header('Docker-Content-Digest', blob.digest)
      .header('Content-Length', '0')
      .send();
    return;
  }
  const upload = await r.ctx.uploads.start(repository.id);
  if (hasBody(r.req.raw)) {
    const updated = await streamBody(r, (body, length) => r.ctx.uploads.append(repository.id, upload.id, body, 0, length));
    setUploadHeaders(r, upload.id, updated.received_bytes);
  } else {
    setUploadHeaders(r, upload.id, 0);
  }
  // OCI 1.1: chunks smaller than this cost the storage extra work (S3's part minimum); smaller ones still work.
  const minChunk = r.ctx.driver.sessions.minChunkBytes;
  if (minChunk) r.reply.header('OCI-Chunk-Min-Length', String(minChunk));
  r.reply.status(202).send();
}

/**
 * The repository named by `from=`, if the caller may pull from it. A token that was never asked
 * for the source gets a challenge naming both scopes, as Distribution does, so clients that
 * follow challenges (rather than asking up front, as docker and containerd do) can mount too.
 */
async function mountableFrom(r: OciRequest, from: string): Promise<string | undefined> {
  const source = parseRepositoryName(from);
  if (typeof source === 'string') return undefined;
  if (r.caller.mightGet(source.full, 'pull')) {
    throw new AppError('UNAUTHORIZED', `mounting from ${source.full} needs pull access to it`, {
      headers: { 'WWW-Authenticate': challenge(r.ctx, r.req, `repository:${r.name.full}:pull,push repository:${source.full}:pull`, 'insufficient_scope') },
    });
  }
  if (!(await r.caller.allows(source.full, 'pull'))) return undefined;
  const sourceRegistry = await r.ctx.registries.byName(source.registry);
  if (!sourceRegistry || sourceRegistry.team_id !== r.caller.teamId) return undefined;
  return (await r.ctx.repositories.find(sourceRegistry.id, source.path))?.id;
}

/**
 * Cross-repository mount: links the blob without moving bytes. Without `from=`, any
 * repository the caller's credential could pull from serves as the source (OCI 1.1).
 */
async function mountFrom(r: OciRequest, targetRepositoryId: string, sourceRepositoryId: string, digest: string): Promise<boolean> {
  if (!(await r.ctx.blobs.mount(targetRepositoryId, sourceRepositoryId, digest))) return false;
  r.reply
    .status(201)
    .header('Location', `${repoPath(r.name)}/blobs/${digest}`)
    .header('Docker-Content-Digest', digest)
    .header('Content-Length', '0')
    .send();
  return true;
}

async function repositoryFor(r: OciRequest, uploadId: string): Promise<string> {
  const repository = await r.ctx.repositories.find(r.registry.id, r.name.path);
  if (!repository) throw new AppError('BLOB_UPLOAD_UNKNOWN', `upload ${uploadId} is unknown`, { detail: { uuid: uploadId } });
  return repository.id;
}

export async function uploadStatus(r: OciRequest, uploadId: string): Promise<void> {
  const upload = await r.ctx.uploads.get(await repositoryFor(r, uploadId), uploadId);
  setUploadHeaders(r, upload.id, upload.received_bytes);
  r.reply.status(204).send();
}

export async function patchUpload(r: OciRequest, uploadId: string): Promise<void> {
  const repositoryId = await repositoryFor(r, uploadId);
  const start = await startOrRange(r, repositoryId, uploadId);
  const upload = await streamBody(r, (body, length) => r.ctx.uploads.append(repositoryId, uploadId, body, start, length));
  setUploadHeaders(r, upload.id, upload.received_bytes);
  r.reply.status(202).send();
}

export async function finishUpload(r: OciRequest, uploadId: string): Promise<void> {
  const digest = r.query.get('digest');
  if (digest === null) throw new AppError('DIGEST_INVALID', 'the digest query parameter is required to finish an upload');
  const repositoryId = await repositoryFor(r, uploadId);
  const start = await startOrRange(r, repositoryId, uploadId);
  const blob = await streamBody(r, (body, length) => r.ctx.uploads.complete(repositoryId, uploadId, digest, hasBody(r.req.raw) ? body : undefined, start, length));
  // The session's headers were set in case of a 416; a finished blob has none of them.
  r.reply.removeHeader('Range').removeHeader('Docker-Upload-UUID');
  r.reply
    .status(201)
    .header('Location', `${repoPath(r.name)}/blobs/${blob.digest}`)
    .header('Docker-Content-Digest', blob.digest)
    .header('Content-Length', '0')
    .send();
}

/** Sets the upload headers first so a 416 carries Location and Range too. */
async function startOrRange(r: OciRequest, repositoryId: string, uploadId: string): Promise<number | undefined> {
  const start = claimedStart(r);
  if (start !== undefined) {
    const upload = await r.ctx.uploads.get(repositoryId, uploadId);
    setUploadHeaders(r, upload.id, upload.received_bytes);
    r.reply.removeHeader('Content-Length');
  }
  return start;
}

export async function cancelUpload(r: OciRequest, uploadId: string): Promise<void> {
  await r.ctx.uploads.cancel(await repositoryFor(r, uploadId), uploadId);
  r.reply.status(204).send();
}
