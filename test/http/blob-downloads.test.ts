/**
 * Blob GETs (on disk through the recycled-buffer path, src/http/send-random-access.ts; on S3
 * streamed): bodies larger than the buffers in flight, ranges across buffer boundaries,
 * concurrency, clients that go away mid-body, and stored bytes that vanish or shrink under a
 * running server.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobService } from '../../src/registry/blobs.js';
import { digestOf, pushBlob, startHarness, type Harness } from '../harness.js';

const NAME = 'downloads/app';
const MiB = 1024 * 1024;
let h: Harness;
let jwt: string;
/** Larger than the 4 × 1 MiB buffers a response may have in flight, and not a multiple of them. */
let big: Buffer;
let bigDigest: string;

beforeAll(async () => {
  h = await startHarness();
  await h.createRegistry('downloads');
  jwt = await h.jwt(h.token, `repository:${NAME}:pull,push`);
  big = randomBytes(5 * MiB + 3);
  bigDigest = await pushBlob(h, jwt, NAME, big);
});
afterAll(() => h.close());

/** The storage key that holds a digest's bytes, whatever the driver. */
async function storedKey(digest: string): Promise<string> {
  const key = await BlobService.locate(h.ctx.db, h.ctx.driver, digest);
  if (!key) throw new Error(`${digest} has no stored bytes`);
  return key;
}

async function get(digest: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await h.registry(`/v2/${NAME}/blobs/${digest}`, { auth: jwt, headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** A GET with node:http that reads `readBytes` of the body and then destroys the connection. */
function abandonAfter(digest: string, readBytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(`${h.registryUrl}/v2/${NAME}/blobs/${digest}`, { headers: { authorization: `Bearer ${jwt}` }, agent: false }, (res) => {
      let seen = 0;
      res.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen >= readBytes) {
          req.destroy();
          resolve();
        }
      });
      res.on('error', () => resolve());
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err)));
    req.end();
  });
}

describe('blob downloads', () => {
  it('sends a body larger than the buffers in flight intact, with the headers a client checks', async () => {
    const res = await get(bigDigest);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(big.length));
    expect(res.headers.get('docker-content-digest')).toBe(bigDigest);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(digestOf(res.body)).toBe(bigDigest);
  });

  it('serves ranges that start and end inside and across buffer boundaries', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-0', 0, 0],
      [`bytes=${MiB - 5}-${MiB + 4}`, MiB - 5, MiB + 4],
      [`bytes=${4 * MiB}-`, 4 * MiB, big.length - 1],
      ['bytes=-7', big.length - 7, big.length - 1],
      [`bytes=3-${10 * MiB}`, 3, big.length - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await get(bigDigest, { range });
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range'), range).toBe(`bytes ${start}-${end}/${big.length}`);
      expect(res.body.equals(big.subarray(start, end + 1)), range).toBe(true);
    }
  });

  it('keeps concurrent downloads apart, also while other clients abandon theirs half-way', async () => {
    const others = await Promise.all([1, 2, 3].map(() => pushBlob(h, jwt, NAME, randomBytes(3 * MiB + 11))));
    const results = await Promise.all([
      ...[bigDigest, ...others, bigDigest, ...others].map(async (digest) => ({ digest, body: (await get(digest)).body })),
      abandonAfter(bigDigest, 1),
      abandonAfter(bigDigest, 2 * MiB),
      abandonAfter(others[0]!, MiB + 1),
    ]);
    for (const r of results) if (r) expect(digestOf(r.body)).toBe(r.digest);
    // Buffers of the abandoned responses went back to the pool (or were dropped) without
    // leaking into what is served next.
    for (let i = 0; i < 3; i++) expect(digestOf((await get(bigDigest)).body)).toBe(bigDigest);
  });

  it('answers 404 BLOB_UNKNOWN, before any body, when the recorded bytes are missing', async () => {
    const bytes = randomBytes(2 * MiB);
    const digest = await pushBlob(h, jwt, NAME, bytes);
    await h.ctx.driver.delete(await storedKey(digest));
    const res = await get(digest);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body.toString('utf8')).errors[0]).toMatchObject({ code: 'BLOB_UNKNOWN' });
  });

  it('cuts the body short, rather than padding it, when the stored bytes shrank; the server keeps serving', async () => {
    const bytes = randomBytes(3 * MiB);
    const digest = await pushBlob(h, jwt, NAME, bytes);
    await h.ctx.driver.put(await storedKey(digest), bytes.subarray(0, MiB + 100));
    const outcome = await h
      .registry(`/v2/${NAME}/blobs/${digest}`, { auth: jwt })
      .then(async (res) => {
        const body = Buffer.from(await res.arrayBuffer());
        return `complete: ${body.length} bytes`;
      })
      .catch((err: Error) => `failed: ${err.message}`);
    expect(outcome).toMatch(/^failed/);
    const hash = createHash('sha256').update((await get(bigDigest)).body).digest('hex');
    expect(`sha256:${hash}`).toBe(bigDigest);
  });
});
