import { pipeline, Transform, type Readable } from 'node:stream';
import { AppError } from '../../errors/index.js';
import { parseDigest } from '../../oci/index.js';
import { sendRandomAccess } from '../send-random-access.js';
import type { OciRequest } from './request.js';

export function checkDigest(digest: string): void {
  const parsed = parseDigest(digest);
  if (parsed === 'unsupported-algorithm') throw new AppError('DIGEST_INVALID', `unsupported digest algorithm in "${digest}"; use sha256 or sha512`);
  if (parsed === 'malformed') throw new AppError('DIGEST_INVALID', `"${digest}" is not a valid digest`);
}

/** Parses a single `bytes=` range against the blob size; undefined means the whole blob. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const unsatisfiable = () => new AppError('RANGE_INVALID', `range "${header}" cannot be satisfied for a blob of ${size} bytes`, { headers: { 'Content-Range': `bytes */${size}` } });
  if (!m || (m[1] === '' && m[2] === '')) throw unsatisfiable();
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw unsatisfiable();
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) throw unsatisfiable();
  return { start, end };
}

/**
 * How long a redirect URL for a blob GET stays valid. The client follows it at once and S3
 * checks the expiry only when a request starts, so a long download is never cut off; minutes
 * rather than hours keep a leaked URL short-lived (the read JWT it stands in for lives 5 min),
 * with room for clock skew between Berth and the object store.
 */
const REDIRECT_TTL_SECONDS = 10 * 60;

/**
 * Passes `source` through, failing the stream when it does not carry exactly `length` bytes.
 * The headers have promised that many: a short body that ended normally would leave a
 * keep-alive client waiting for the rest; failing makes the server drop the connection.
 */
function exactly(source: Readable, length: number): Readable {
  let seen = 0;
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > length ? new Error(`stored object is longer than the ${length} bytes recorded`) : null, chunk);
    },
    flush(done) {
      done(seen === length ? null : new Error(`stored object ended after ${seen} of ${length} bytes`));
    },
  });
  // Errors of the source reach `check` too, and Fastify drops the connection on either.
  pipeline(source, check, () => undefined);
  return check;
}

export async function getBlob(r: OciRequest, digest: string, head: boolean): Promise<void> {
  checkDigest(digest);
  const repository = await r.ctx.repositories.find(r.registry.id, r.name.path);
  const stat = repository ? await r.ctx.blobs.stat(repository.id, digest) : undefined;
  if (!repository || !stat) throw new AppError('BLOB_UNKNOWN', `blob ${digest} is not in ${r.name.full}`, { detail: { digest } });
  if (!head && r.ctx.config.storageRedirect) {
    // As Distribution's redirect middleware and DigitalOcean's CDN do: the bytes come from storage.
    const url = await r.ctx.blobs.redirectUrl(stat, REDIRECT_TTL_SECONDS);
    if (url) {
      r.reply.status(307).header('Location', url).header('Docker-Content-Digest', digest).header('Content-Length', '0').send();
      return;
    }
  }
  const range = parseRange(r.req.headers.range, stat.size);
  r.reply
    .header('Docker-Content-Digest', digest)
    .header('ETag', `"${digest}"`)
    .header('Accept-Ranges', 'bytes')
    .header('Cache-Control', 'max-age=31536000')
    .header('Content-Type', 'application/octet-stream');
  if (range) {
    r.reply.status(206).header('Content-Range', `bytes ${range.start}-${range.end}/${stat.size}`).header('Content-Length', String(range.end - range.start + 1));
  } else {
    r.reply.status(200).header('Content-Length', String(stat.size));
  }
  if (head) {
    r.reply.send();
    return;
  }
  if (stat.size === 0) {
    r.reply.send(Buffer.alloc(0));
    return;
  }
  const span = range ?? { start: 0, end: stat.size - 1 };
  const object = await r.ctx.blobs.openRandomAccess(stat, span);
  if (object) return sendRandomAccess(r.reply, object, span.start, span.end);
  r.reply.send(exactly(await r.ctx.blobs.open(stat, range), range ? range.end - range.start + 1 : stat.size));
}

export async function deleteBlob(r: OciRequest, digest: string): Promise<void> {
  checkDigest(digest);
  const repository = await r.ctx.repositories.find(r.registry.id, r.name.path);
  if (!repository) throw new AppError('BLOB_UNKNOWN', `blob ${digest} is not in ${r.name.full}`, { detail: { digest } });
  await r.ctx.blobs.unlink(repository.id, digest);
  r.reply.status(202).header('Content-Length', '0').send();
}
