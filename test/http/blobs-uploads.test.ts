import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, pushBlob, startHarness, type Harness } from '../harness.js';

const NAME = 'uploads/app';
let h: Harness;
let jwt: string;

beforeAll(async () => {
  h = await startHarness();
  await h.createRegistry('uploads');
  jwt = await h.jwt(h.token, `repository:${NAME}:pull,push,delete`);
});
afterAll(() => h.close());

async function startUpload(): Promise<string> {
  const res = await h.registry(`/v2/${NAME}/blobs/uploads/`, { method: 'POST', auth: jwt });
  expect(res.status).toBe(202);
  expect(res.headers.get('docker-upload-uuid')).toMatch(/^[0-9a-f-]{36}$/);
  expect(res.headers.get('range')).toBe('0-0');
  return res.headers.get('location')!;
}

async function patch(location: string, bytes: Buffer, range?: string): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (range) headers['content-range'] = range;
  return h.registry(location, { method: 'PATCH', auth: jwt, body: bytes, headers });
}

function uploadId(location: string): string {
  return /\/blobs\/uploads\/([^/?]+)/.exec(location)![1]!;
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

async function headBlob(digest: string): Promise<Response> {
  return h.registry(`/v2/${NAME}/blobs/${digest}`, { method: 'HEAD', auth: jwt });
}

describe('monolithic uploads', () => {
  it('POST ?digest= stores the blob and answers 201 with its location', async () => {
    const bytes = randomBytes(4096);
    const digest = digestOf(bytes);
    const res = await h.registry(`/v2/${NAME}/blobs/uploads/?digest=${digest}`, { method: 'POST', auth: jwt, body: bytes });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v2/${NAME}/blobs/${digest}`);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    const head = await headBlob(digest);
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('4096');
    expect(head.headers.get('docker-content-digest')).toBe(digest);
  });

  it('POST then PUT with the whole body', async () => {
    const bytes = randomBytes(10_000);
    const digest = digestOf(bytes);
    const location = await startUpload();
    const res = await h.registry(withDigest(location, digest), { method: 'PUT', auth: jwt, body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    expect(res.status).toBe(201);
    const get = await h.registry(`/v2/${NAME}/blobs/${digest}`, { auth: jwt });
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('accepts the empty blob', async () => {
    const digest = digestOf(Buffer.alloc(0));
    const res = await h.registry(`/v2/${NAME}/blobs/uploads/?digest=${digest}`, { method: 'POST', auth: jwt });
    expect(res.status).toBe(201);
    const get = await h.registry(`/v2/${NAME}/blobs/${digest}`, { auth: jwt });
    expect(get.status).toBe(200);
    expect((await get.arrayBuffer()).byteLength).toBe(0);
  });

  it('accepts sha512 digests', async () => {
    const bytes = randomBytes(777);
    const digest = digestOf(bytes, 'sha512');
    const res = await h.registry(`/v2/${NAME}/blobs/uploads/?digest=${digest}`, { method: 'POST', auth: jwt, body: bytes });
    expect(res.status).toBe(201);
    expect((await headBlob(digest)).status).toBe(200);
  });

  it('refuses a wrong digest with DIGEST_INVALID and stores nothing', async () => {
    const bytes = randomBytes(100);
    const wrong = digestOf(randomBytes(100));
    const res = await h.registry(`/v2/${NAME}/blobs/uploads/?digest=${wrong}`, { method: 'POST', auth: jwt, body: bytes });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('DIGEST_INVALID');
    expect((await headBlob(wrong)).status).toBe(404);
    expect((await headBlob(digestOf(bytes))).status).toBe(404);
  });

  it('refuses malformed and unsupported digests', async () => {
    for (const bad of ['sha256:abc', 'md5:d41d8cd98f00b204e9800998ecf8427e', 'nope']) {
      const res = await h.registry(`/v2/${NAME}/blobs/uploads/?digest=${bad}`, { method: 'POST', auth: jwt, body: Buffer.from('x') });
      expect(res.status, bad).toBe(400);
      expect(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('DIGEST_INVALID');
    }
  });
});

describe('chunked uploads', () => {
  it('PATCH chunks with Content-Range, then PUT ?digest=', async () => {
    const bytes = randomBytes(3 * 65536 + 17);
    const digest = digestOf(bytes);
    let location = await startUpload();
    let offset = 0;
    for (const size of [65536, 65536, 65536, 17]) {
      const chunk = bytes.subarray(offset, offset + size);
      const res = await patch(location, chunk, `${offset}-${offset + size - 1}`);
      expect(res.status).toBe(202);
      offset += size;
      expect(res.headers.get('range')).toBe(`0-${offset - 1}`);
      location = res.headers.get('location')!;
    }
    const status = await h.registry(location, { auth: jwt });
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${bytes.length - 1}`);
    const put = await h.registry(withDigest(location, digest), { method: 'PUT', auth: jwt });
    expect(put.status).toBe(201);
    const get = await h.registry(`/v2/${NAME}/blobs/${digest}`, { auth: jwt });
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('answers 416 with the real Range for a chunk at the wrong offset, and nothing changes', async () => {
    const bytes = randomBytes(2000);
    const location = await startUpload();
    const first = await patch(location, bytes.subarray(0, 1000), '0-999');
    expect(first.status).toBe(202);
    const next = first.headers.get('location')!;
    const wrong = await patch(next, bytes.subarray(1000), '1500-2499');
    expect(wrong.status).toBe(416);
    expect(wrong.headers.get('range')).toBe('0-999');
    expect(wrong.headers.get('location')).toBeTruthy();
    const ok = await patch(next, bytes.subarray(1000), '1000-1999');
    expect(ok.status).toBe(202);
    const put = await h.registry(withDigest(ok.headers.get('location')!, digestOf(bytes)), { method: 'PUT', auth: jwt });
    expect(put.status).toBe(201);
  });

  it('answers 416 when a chunk is retried on an older upload URL', async () => {
    const bytes = randomBytes(2000);
    const location = await startUpload();
    const first = await patch(location, bytes.subarray(0, 1000));
    expect(first.status).toBe(202);
    const retry = await patch(location, bytes.subarray(0, 1000));
    expect(retry.status).toBe(416);
    expect(retry.headers.get('range')).toBe('0-999');
    const status = await h.registry(first.headers.get('location')!, { auth: jwt });
    expect(status.headers.get('range')).toBe('0-999');
  });

  it('refuses a final digest that does not match and keeps the session', async () => {
    const bytes = randomBytes(500);
    const location = await startUpload();
    const res = await patch(location, bytes);
    const next = res.headers.get('location')!;
    const bad = await h.registry(withDigest(next, digestOf(randomBytes(5))), { method: 'PUT', auth: jwt });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('DIGEST_INVALID');
    const good = await h.registry(withDigest(next, digestOf(bytes)), { method: 'PUT', auth: jwt });
    expect(good.status).toBe(201);
  });

  it('requires a digest to finish', async () => {
    const location = await startUpload();
    const res = await h.registry(location, { method: 'PUT', auth: jwt });
    expect(res.status).toBe(400);
  });

  it('cancels an upload; afterwards it is unknown', async () => {
    const location = await startUpload();
    const del = await h.registry(location, { method: 'DELETE', auth: jwt });
    expect(del.status).toBe(204);
    const status = await h.registry(location, { auth: jwt });
    expect(status.status).toBe(404);
    expect(((await status.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('BLOB_UPLOAD_UNKNOWN');
  });

  it('does not let another repository use an upload id', async () => {
    await h.createRegistry('uploads-other');
    const otherJwt = await h.jwt(h.token, 'repository:uploads-other/app:pull,push');
    const location = await startUpload();
    const id = uploadId(location);
    const res = await h.registry(`/v2/uploads-other/app/blobs/uploads/${id}`, { auth: otherJwt });
    expect(res.status).toBe(404);
  });

  it('survives a restart: the session resumes at the recorded offset', async () => {
    const bytes = randomBytes(4000);
    const location = await startUpload();
    const res = await patch(location, bytes.subarray(0, 1500));
    // A fresh upload service instance has no in-memory hash: it must rebuild it from storage.
    const { UploadService } = await import('../../src/registry/index.js');
    const fresh = new UploadService(h.ctx.db, h.ctx.driver);
    const id = uploadId(location);
    const repo = (await h.ctx.db.selectFrom('uploads').select('repository_id').where('id', '=', id).executeTakeFirstOrThrow()).repository_id;
    const after = await fresh.append(repo, id, Readable.from([bytes.subarray(1500)]), 1500);
    expect(after.received_bytes).toBe(4000);
    const blob = await fresh.complete(repo, id, digestOf(bytes), undefined);
    expect(blob.size).toBe(4000);
    expect(res.status).toBe(202);
  });
});

describe('blob reads', () => {
  it('serves byte ranges', async () => {
    const bytes = randomBytes(1000);
    const digest = await pushBlob(h, jwt, NAME, bytes);
    const res = await h.registry(`/v2/${NAME}/blobs/${digest}`, { auth: jwt, headers: { range: 'bytes=100-199' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 100-199/1000');
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);
    const suffix = await h.registry(`/v2/${NAME}/blobs/${digest}`, { auth: jwt, headers: { range: 'bytes=-10' } });
    expect(Buffer.from(await suffix.arrayBuffer()).equals(bytes.subarray(990))).toBe(true);
    const bad = await h.registry(`/v2/${NAME}/blobs/${digest}`, { auth: jwt, headers: { range: 'bytes=5000-6000' } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe('bytes */1000');
  });

  it('reports unknown blobs as BLOB_UNKNOWN', async () => {
    const res = await h.registry(`/v2/${NAME}/blobs/${digestOf(randomBytes(3))}`, { auth: jwt });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('BLOB_UNKNOWN');
  });

  it('deletes a blob from the repository', async () => {
    const digest = await pushBlob(h, jwt, NAME, randomBytes(64));
    const del = await h.registry(`/v2/${NAME}/blobs/${digest}`, { method: 'DELETE', auth: jwt });
    expect(del.status).toBe(202);
    expect((await headBlob(digest)).status).toBe(404);
    const again = await h.registry(`/v2/${NAME}/blobs/${digest}`, { method: 'DELETE', auth: jwt });
    expect(again.status).toBe(404);
  });
});

describe('cross-repository mounts', () => {
  it('mounts from a repository the caller can pull (201) and falls back to an upload otherwise (202)', async () => {
    const digest = await pushBlob(h, jwt, NAME, randomBytes(300));
    const target = 'uploads/mounted';
    const both = await h.jwt(h.token, `repository:${target}:pull,push`, `repository:${NAME}:pull`);
    const mounted = await h.registry(`/v2/${target}/blobs/uploads/?mount=${digest}&from=${NAME}`, { method: 'POST', auth: both });
    expect(mounted.status).toBe(201);
    expect(mounted.headers.get('location')).toBe(`/v2/${target}/blobs/${digest}`);
    expect((await h.registry(`/v2/${target}/blobs/${digest}`, { method: 'HEAD', auth: both })).status).toBe(200);

    // A token never asked for the source gets a challenge naming both scopes, as Distribution does.
    const onlyTarget = await h.jwt(h.token, 'repository:uploads/third:pull,push');
    const challenged = await h.registry(`/v2/uploads/third/blobs/uploads/?mount=${digest}&from=${NAME}`, { method: 'POST', auth: onlyTarget });
    expect(challenged.status).toBe(401);
    expect(challenged.headers.get('www-authenticate')).toContain(`scope="repository:uploads/third:pull,push repository:${NAME}:pull"`);
    // A credential that asked and may not pull the source gets a plain upload instead.
    await h.createRegistry('uploads-side');
    const sideOnly = await h.dockerPassword('uploads-side', { readWrite: true });
    const refusedJwt = await h.jwt(sideOnly, 'repository:uploads-side/app:pull,push', `repository:${NAME}:pull`);
    const refused = await h.registry(`/v2/uploads-side/app/blobs/uploads/?mount=${digest}&from=${NAME}`, { method: 'POST', auth: refusedJwt });
    expect(refused.status).toBe(202);
    expect((await h.registry(`/v2/uploads-side/app/blobs/${digest}`, { method: 'HEAD', auth: refusedJwt })).status).toBe(404);
  });

  it('mounts without from= only from registries the credential may pull', async () => {
    const digest = await pushBlob(h, jwt, NAME, randomBytes(301));
    // The bootstrap token may pull every registry of its team: the registry finds the blob itself.
    const teamWide = await h.jwt(h.token, 'repository:uploads/auto:pull,push');
    const mounted = await h.registry(`/v2/uploads/auto/blobs/uploads/?mount=${digest}`, { method: 'POST', auth: teamWide });
    expect(mounted.status).toBe(201);
    expect(mounted.headers.get('location')).toBe(`/v2/uploads/auto/blobs/${digest}`);
    // A docker credential bound to another registry cannot reach it.
    await h.createRegistry('uploads-bound');
    const bound = await h.dockerPassword('uploads-bound', { readWrite: true });
    const boundJwt = await h.jwt(bound, 'repository:uploads-bound/app:pull,push');
    const fresh = await h.registry(`/v2/uploads-bound/app/blobs/uploads/?mount=${digest}`, { method: 'POST', auth: boundJwt });
    expect(fresh.status).toBe(202);
    expect((await h.registry(`/v2/uploads-bound/app/blobs/${digest}`, { method: 'HEAD', auth: boundJwt })).status).toBe(404);
    const unknown = await h.registry(`/v2/uploads/auto/blobs/uploads/?mount=${digestOf(randomBytes(7))}`, { method: 'POST', auth: teamWide });
    expect(unknown.status).toBe(202);
  });
});

describe('abandoned uploads', () => {
  /** Bytes the driver holds for a session in progress (a file, or S3 tail objects), if any. */
  async function sessionBytes(id: string): Promise<number | undefined> {
    let total: number | undefined;
    for await (const o of h.ctx.driver.list('uploads')) if (o.key.startsWith(`uploads/${id}`)) total = (total ?? 0) + o.size;
    return total;
  }

  it('expire: the session, its bytes and orphaned temporary files are removed; fresh ones stay', async () => {
    // More than S3 sessions keep in their row (64 KiB): every driver holds these bytes in storage.
    const chunk = 100 * 1024;
    const stale = await startUpload();
    await patch(stale, randomBytes(chunk));
    const fresh = await startUpload();
    await patch(fresh, randomBytes(chunk));
    const staleId = uploadId(stale);
    await h.ctx.db.updateTable('uploads').set({ updated_at: Date.now() - 3_600_000 }).where('id', '=', staleId).execute();
    // Session storage with no session row (a crash between its append and its row).
    const orphanId = randomUUID();
    const sessions = h.ctx.driver.sessions;
    await sessions.append(orphanId, sessions.begin(orphanId), 0, Readable.from([randomBytes(chunk)]));

    const removed = await h.ctx.uploads.expire(Date.now() + 1000 - 1000 * 60 * 30);
    expect(removed).toBeGreaterThanOrEqual(1);
    expect(await sessionBytes(staleId)).toBeUndefined();
    expect((await h.registry(stale, { auth: jwt })).status).toBe(404);
    expect((await h.registry(fresh, { auth: jwt })).status).toBe(204);
    expect(await sessionBytes(uploadId(fresh))).toBe(chunk);
    // The orphan is younger than the cutoff here; a later pass with a cutoff after it removes it.
    expect(await sessionBytes(orphanId)).toBe(chunk);
    await h.ctx.uploads.expire(Date.now() + 1000);
    expect(await sessionBytes(orphanId)).toBeUndefined();
  });
});

describe('truncated bodies', () => {
  /** Sends a request declaring `declared` bytes, writes only `body`, then drops the connection. */
  async function sendTruncated(method: string, path: string, declared: number, body: Buffer): Promise<void> {
    const { port } = new URL(h.registryUrl);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${jwt}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`,
    );
    socket.write(body);
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    // Give the server a moment to notice the abort and roll the write back.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  it('a PATCH cut short keeps nothing of the chunk; the upload resumes at the old offset', async () => {
    const bytes = randomBytes(8000);
    const location = await startUpload();
    const first = await patch(location, bytes.subarray(0, 3000));
    const next = first.headers.get('location')!;
    await sendTruncated('PATCH', next, 5000, bytes.subarray(3000, 5000));
    const status = await h.registry(next, { auth: jwt });
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-2999');
    const rest = await patch(next, bytes.subarray(3000), '3000-7999');
    expect(rest.status).toBe(202);
    const put = await h.registry(withDigest(rest.headers.get('location')!, digestOf(bytes)), { method: 'PUT', auth: jwt });
    expect(put.status).toBe(201);
  });

  it('a monolithic upload cut short stores nothing', async () => {
    const bytes = randomBytes(6000);
    const digest = digestOf(bytes);
    await sendTruncated('POST', `/v2/${NAME}/blobs/uploads/?digest=${digest}`, bytes.length, bytes.subarray(0, 2500));
    expect((await headBlob(digest)).status).toBe(404);
    const row = await h.ctx.db.selectFrom('blobs').select('digest').where('digest', '=', digest).executeTakeFirst();
    expect(row).toBeUndefined();
  });
});

describe('empty repositories', () => {
  it('are removed once old; repositories with content or uploads stay', async () => {
    const emptyJwt = await h.jwt(h.token, 'repository:uploads/empty:pull,push', 'repository:uploads/busy:pull,push');
    const started = await h.registry('/v2/uploads/empty/blobs/uploads/', { method: 'POST', auth: emptyJwt });
    await h.registry(started.headers.get('location')!, { method: 'DELETE', auth: emptyJwt });
    await h.registry('/v2/uploads/busy/blobs/uploads/', { method: 'POST', auth: emptyJwt });
    const registryId = (await h.ctx.registries.byName('uploads'))!.id;
    expect(await h.ctx.repositories.find(registryId, 'empty')).toBeDefined();
    await h.ctx.repositories.removeEmpty(Date.now() + 1000);
    expect(await h.ctx.repositories.find(registryId, 'empty')).toBeUndefined();
    expect(await h.ctx.repositories.find(registryId, 'busy')).toBeDefined();
    expect(await h.ctx.repositories.find(registryId, 'app')).toBeDefined();
  });
});
