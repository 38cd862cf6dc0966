/**
 * What only S3 storage does, over real HTTP against two in-process nodes sharing one database
 * and one bucket prefix: a chunked push whose 1 MiB PATCHes alternate between the nodes, no
 * copy on finish, a second push of a stored digest leaving nothing behind, digests other than
 * sha256, the orphan sweep of finished-upload keys; and the start-up checks of a real server.
 * Runs in the postgres-s3 project.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepOrphanedBytes } from '../../src/gc/index.js';
import { digestOf } from '../../src/oci/index.js';
import { run } from '../support/exec.js';
import { testDatabaseUrl } from '../support/database.js';
import { freePort } from '../support/postgres.js';
import { MAIN_JS } from '../support/server.js';
import { testS3, testS3Env, testStorage, testStorageUrl } from '../support/storage.js';
import { makeTempDir } from '../support/tmp.js';
import { startHarness, type Harness } from '../harness.js';

const MiB = 1024 * 1024;
const NAME = 's3-nodes/app';

if (testStorage() !== 's3') throw new Error('*.s3.test.ts files run in the postgres-s3 project only');

describe('S3 storage', () => {
  let a: Harness;
  let b: Harness;
  let jwt: string;

  beforeAll(async () => {
    a = await startHarness();
    if (a.ctx.config.storage.driver !== 's3' || a.ctx.config.database.dialect !== 'postgres') throw new Error('expected PostgreSQL and S3');
    b = await startHarness({ databaseUrl: a.ctx.config.database.url, storageUrl: testStorageUrl(a.ctx.config.storage.prefix) });
    await a.createRegistry('s3-nodes');
    jwt = await a.jwt(a.token, `repository:${NAME}:pull,push`);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  async function objects(prefix: string): Promise<{ key: string; size: number }[]> {
    const out = [];
    for await (const o of a.ctx.driver.list(prefix)) out.push({ key: o.key, size: o.size });
    return out;
  }

  /** POST on one node, then PATCHes of `chunk` bytes alternating a, b, a…, then PUT on the next. */
  async function chunkedPush(bytes: Buffer, chunk: number, digest = digestOf(bytes)): Promise<{ id: string; finish: Response }> {
    const nodes = [a, b];
    const start = await a.registry(`/v2/${NAME}/blobs/uploads/`, { method: 'POST', auth: jwt });
    expect(start.status).toBe(202);
    expect(start.headers.get('oci-chunk-min-length')).toBe(String(5 * MiB)); // advertised; smaller chunks still work
    let location = start.headers.get('location')!;
    const id = start.headers.get('docker-upload-uuid')!;
    let i = 0;
    for (let at = 0; at < bytes.length; at += chunk, i++) {
      const part = bytes.subarray(at, at + chunk);
      const res = await nodes[i % 2]!.registry(location, {
        method: 'PATCH',
        auth: jwt,
        body: part,
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${at}-${at + part.length - 1}` },
      });
      expect(res.status, await res.clone().text()).toBe(202);
      expect(res.headers.get('range')).toBe(`0-${at + part.length - 1}`);
      location = res.headers.get('location')!;
    }
    const separator = location.includes('?') ? '&' : '?';
    const finish = await nodes[i % 2]!.registry(`${location}${separator}digest=${digest}`, { method: 'PUT', auth: jwt });
    return { id, finish };
  }

  it('takes 1 MiB PATCHes alternating between nodes and keeps the blob where the multipart upload put it', async () => {
    const bytes = randomBytes(12 * MiB + 4321);
    const digest = digestOf(bytes);
    const { id, finish } = await chunkedPush(bytes, MiB);
    expect(finish.status, await finish.clone().text()).toBe(201);
    const row = await a.ctx.db.selectFrom('blobs').select(['size', 'storage_key']).where('digest', '=', digest).executeTakeFirstOrThrow();
    expect(row).toEqual({ size: bytes.length, storage_key: `blobs/uploads/${id}` });
    expect(await objects('uploads')).toEqual([]); // no tail objects left
    expect(await a.ctx.db.selectFrom('uploads').select('id').where('id', '=', id).executeTakeFirst()).toBeUndefined();

    for (const node of [a, b]) {
      const whole = await node.registry(`/v2/${NAME}/blobs/${digest}`, { auth: jwt });
      expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true);
      const range = await node.registry(`/v2/${NAME}/blobs/${digest}`, { auth: jwt, headers: { range: `bytes=${8 * MiB - 5}-${8 * MiB + 4}` } });
      expect(range.status).toBe(206);
      expect(Buffer.from(await range.arrayBuffer()).equals(bytes.subarray(8 * MiB - 5, 8 * MiB + 5))).toBe(true);
    }
  });

  it('keeps a small chunk in the session row, not in S3: the blob is one object when it finishes', async () => {
    const bytes = randomBytes(20_000);
    const start = await a.registry(`/v2/${NAME}/blobs/uploads/`, { method: 'POST', auth: jwt });
    const id = start.headers.get('docker-upload-uuid')!;
    const patched = await a.registry(start.headers.get('location')!, { method: 'PATCH', auth: jwt, body: bytes, headers: { 'content-range': `0-${bytes.length - 1}` } });
    expect(patched.status).toBe(202);
    expect(await objects(`uploads/${id}`)).toEqual([]);
    const row = await a.ctx.db.selectFrom('uploads').select('driver_state').where('id', '=', id).executeTakeFirstOrThrow();
    expect(JSON.parse(row.driver_state!)).toEqual({ parts: [], tail: [{ inline: bytes.toString('base64'), size: bytes.length }] });
    const next = patched.headers.get('location')!;
    const done = await b.registry(`${next}&digest=${digestOf(bytes)}`, { method: 'PUT', auth: jwt });
    expect(done.status, await done.clone().text()).toBe(201);
    expect(await objects(`blobs/sha256/${digestOf(bytes).slice(7, 9)}`)).toEqual([{ key: `blobs/sha256/${digestOf(bytes).slice(7, 9)}/${digestOf(bytes).slice(7)}`, size: bytes.length }]);
    const get = await a.registry(`/v2/${NAME}/blobs/${digestOf(bytes)}`, { auth: jwt });
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('a chunk that fails on one node is retried on the other from the recorded offset', async () => {
    const bytes = randomBytes(7 * MiB);
    const start = await a.registry(`/v2/${NAME}/blobs/uploads/`, { method: 'POST', auth: jwt });
    const location = start.headers.get('location')!;
    const first = await a.registry(location, { method: 'PATCH', auth: jwt, body: bytes.subarray(0, 3 * MiB), headers: { 'content-range': `0-${3 * MiB - 1}` } });
    expect(first.status).toBe(202);
    // A retry of an old URL lands on the other node: 416 with the real offset.
    const stale = await b.registry(location, { method: 'PATCH', auth: jwt, body: bytes.subarray(0, MiB), headers: { 'content-range': `0-${MiB - 1}` } });
    expect(stale.status).toBe(416);
    expect(stale.headers.get('range')).toBe(`0-${3 * MiB - 1}`);
    const next = first.headers.get('location')!;
    const rest = await b.registry(`${next}&digest=${digestOf(bytes)}`, { method: 'PUT', auth: jwt, body: bytes.subarray(3 * MiB), headers: { 'content-range': `${3 * MiB}-${7 * MiB - 1}` } });
    expect(rest.status, await rest.clone().text()).toBe(201);
    const get = await a.registry(`/v2/${NAME}/blobs/${digestOf(bytes)}`, { auth: jwt });
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('a whole-blob PUT with a wrong digest keeps its bytes and their digest: the right digest finishes it on the other node, more bytes are refused', async () => {
    const bytes = randomBytes(9 * MiB); // more than a part: a multipart upload
    const start = await a.registry(`/v2/${NAME}/blobs/uploads/`, { method: 'POST', auth: jwt });
    const id = start.headers.get('docker-upload-uuid')!;
    const location = start.headers.get('location')!;
    const withDigest = (digest: string) => `${location}${location.includes('?') ? '&' : '?'}digest=${digest}`;
    const bad = await a.registry(withDigest(digestOf(randomBytes(5))), { method: 'PUT', auth: jwt, body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('DIGEST_INVALID');
    // Hashed natively in one go: the row keeps the finished digest instead of a midstate.
    const row = () => a.ctx.db.selectFrom('uploads').select(['received_bytes', 'hash_state', 'driver_state']).where('id', '=', id).executeTakeFirstOrThrow();
    const kept = await row();
    expect(kept.received_bytes).toBe(bytes.length);
    expect(kept.hash_state).toBe(`sealed:${digestOf(bytes)}`);

    const more = await b.registry(location, { method: 'PATCH', auth: jwt, body: randomBytes(10), headers: { 'content-range': `${bytes.length}-${bytes.length + 9}` } });
    expect(more.status).toBe(400);
    const error = ((await more.json()) as { errors: { code: string; message: string }[] }).errors[0]!;
    expect(error.code).toBe('BLOB_UPLOAD_INVALID');
    expect(error.message).toMatch(/cannot take more/);
    expect(await row()).toEqual(kept);

    const good = await b.registry(withDigest(digestOf(bytes)), { method: 'PUT', auth: jwt });
    expect(good.status, await good.clone().text()).toBe(201);
    const get = await a.registry(`/v2/${NAME}/blobs/${digestOf(bytes)}`, { auth: jwt });
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('a second push of a stored digest leaves no object, multipart upload or tail behind', async () => {
    const bytes = randomBytes(10 * MiB + 1); // more than a part: a multipart upload
    const digest = digestOf(bytes);
    const first = await chunkedPush(bytes, 2 * MiB);
    expect(first.finish.status).toBe(201);
    const again = await chunkedPush(bytes, 2 * MiB);
    expect(again.finish.status).toBe(201);
    const keys = (await objects('blobs/uploads')).map((o) => o.key);
    expect(keys).toContain(`blobs/uploads/${first.id}`);
    expect(keys).not.toContain(`blobs/uploads/${again.id}`);
    expect(await a.ctx.driver.sessions.sweep(Date.now() + 60_000, async () => false)).toBe(0);
    const row = await a.ctx.db.selectFrom('blobs').select('storage_key').where('digest', '=', digest).executeTakeFirstOrThrow();
    expect(row.storage_key).toBe(`blobs/uploads/${first.id}`);
  });

  it('checks sha512 digests on the finished object and keeps nothing when they are wrong', async () => {
    const bytes = randomBytes(6 * MiB);
    const sha512 = digestOf(bytes, 'sha512');
    const wrong = digestOf(randomBytes(10), 'sha512');
    const bad = await chunkedPush(bytes, 3 * MiB, wrong);
    expect(bad.finish.status).toBe(400);
    expect(((await bad.finish.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('DIGEST_INVALID');
    expect(await a.ctx.db.selectFrom('blobs').select('digest').where('digest', '=', wrong).executeTakeFirst()).toBeUndefined();
    expect((await objects('blobs/uploads')).map((o) => o.key)).not.toContain(`blobs/uploads/${bad.id}`);
    const good = await chunkedPush(bytes, 3 * MiB, sha512);
    expect(good.finish.status, await good.finish.clone().text()).toBe(201);
    const get = await b.registry(`/v2/${NAME}/blobs/${sha512}`, { auth: jwt });
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('the orphan sweep removes finished-upload objects nothing names, and spares live sessions and recorded blobs', async () => {
    const recorded = (await a.ctx.db.selectFrom('blobs').select('storage_key').where('storage_key', 'is not', null).executeTakeFirstOrThrow()).storage_key!;
    const orphan = 'blobs/uploads/0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f';
    await a.ctx.driver.put(orphan, Buffer.from('left by a crash after CompleteMultipartUpload'));
    const live = await a.registry(`/v2/${NAME}/blobs/uploads/`, { method: 'POST', auth: jwt });
    const liveKey = `blobs/uploads/${live.headers.get('docker-upload-uuid')}`;
    await a.ctx.driver.put(liveKey, Buffer.from('a session still open'));
    const freed = await sweepOrphanedBytes(a.ctx.db, a.ctx.driver, -60_000);
    expect(freed.blobs).toBe(1);
    const keys = (await objects('blobs/uploads')).map((o) => o.key);
    expect(keys).not.toContain(orphan);
    expect(keys).toContain(liveKey);
    expect(keys).toContain(recorded);
  });
});

describe('S3 storage checks at start', () => {
  async function serve(storageUrl: string, env: Record<string, string> = {}) {
    const dataDir = await makeTempDir('s3-start');
    const args = [MAIN_JS, 'serve', '--data-dir', dataDir, '--database-url', await testDatabaseUrl(), '--storage-url', storageUrl];
    args.push('--api-listen', `127.0.0.1:${await freePort()}`, '--registry-listen', `127.0.0.1:${await freePort()}`);
    const clean: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BERTH_') && !k.startsWith('AWS_')) clean[k] = v;
    return run(process.execPath, args, { env: { ...clean, ...testS3Env(), ...env }, timeoutMs: 60_000 });
  }
  const endpoint = () => encodeURIComponent(testS3().endpoint);

  it('refuses a missing bucket', async () => {
    const result = await serve(`s3://no-such-bucket-berth/p?endpoint=${endpoint()}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('bucket "no-such-bucket-berth" does not exist; create it first');
  });

  it('refuses wrong credentials', async () => {
    const result = await serve(`s3://${testS3().bucket}/p?endpoint=${endpoint()}`, { AWS_SECRET_ACCESS_KEY: 'wrong-secret' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('access denied (HTTP 403)');
    expect(result.stderr).not.toContain('wrong-secret');
  });

  it('refuses an unreachable endpoint', async () => {
    const result = await serve(`s3://${testS3().bucket}/p?endpoint=http%3A%2F%2F127.0.0.1%3A${await freePort()}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot reach the S3 endpoint (ECONNREFUSED)');
  });

  it('refuses credentials in the URL before touching anything', async () => {
    const result = await serve(`s3://AKIA:topsecret@${testS3().bucket}/p?endpoint=${endpoint()}`);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('credentials do not belong in the storage URL');
    expect(result.stderr).not.toContain('topsecret');
  });
});
