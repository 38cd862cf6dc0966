import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { blobKey, BlobNotFoundError, type BlobDriver, type SessionState } from './driver.js';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function* failingAfter(chunks: Buffer[]): AsyncIterable<Buffer> {
  for (const c of chunks) yield c;
  throw new Error('client went away');
}

function digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A state as it comes back from the database: JSON, nothing shared with the writer's objects. */
function stored(state: SessionState): SessionState {
  return JSON.parse(JSON.stringify(state)) as SessionState;
}

/** A session driven the way UploadService drives it: persist each state, then settle. */
async function appendAll(d: BlobDriver, id: string, chunks: Buffer[], per = 1): Promise<{ state: SessionState; size: number }> {
  let state = d.sessions.begin(id);
  let size = 0;
  for (let i = 0; i < chunks.length; i += per) {
    const appended = await d.sessions.append(id, stored(state), size, Readable.from(chunks.slice(i, i + per)));
    state = stored(appended.state);
    size = appended.size;
    await appended.settle();
  }
  return { state, size };
}

async function listKeys(d: BlobDriver, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of d.list(prefix)) keys.push(o.key);
  return keys;
}

export interface DriverUnderTest {
  driver: BlobDriver;
  /** A second instance over the same storage (another node, or this one after a restart). */
  another(): BlobDriver;
}

const MiB = 1024 * 1024;

/** The contract every BlobDriver keeps; each driver's test file runs it. */
export function describeBlobDriver(name: string, make: () => Promise<DriverUnderTest>): void {
  describe(`BlobDriver: ${name}`, () => {
    it('puts, stats and reads small objects, whole and by range', async () => {
      const { driver: d } = await make();
      expect(await d.stat('blobs/sha256/ab/a')).toBeUndefined();
      await d.put('blobs/sha256/ab/a', Buffer.from('hello world'));
      expect(await d.stat('blobs/sha256/ab/a')).toEqual({ size: 11 });
      expect((await readAll(await d.read('blobs/sha256/ab/a'))).toString()).toBe('hello world');
      expect((await readAll(await d.read('blobs/sha256/ab/a', { start: 6, end: 10 }))).toString()).toBe('world');
      await d.put('blobs/sha256/ab/a', Buffer.from('replaced'));
      expect((await readAll(await d.read('blobs/sha256/ab/a'))).toString()).toBe('replaced');
    });

    it('lists only under the prefix, and deletes idempotently', async () => {
      const { driver: d } = await make();
      await d.put('blobs/sha256/cd/cdef', Buffer.from('{}'));
      await d.put('blobsish/x', Buffer.from('no'));
      expect(await listKeys(d, 'blobs')).toEqual(['blobs/sha256/cd/cdef']);
      const [object] = await (async () => {
        const all = [];
        for await (const o of d.list('blobs')) all.push(o);
        return all;
      })();
      expect(object).toMatchObject({ key: 'blobs/sha256/cd/cdef', size: 2 });
      expect(Math.abs(object!.modifiedAt - Date.now())).toBeLessThan(5 * 60_000);
      await d.delete('blobs/sha256/cd/cdef');
      await d.delete('blobs/sha256/cd/cdef');
      expect(await d.stat('blobs/sha256/cd/cdef')).toBeUndefined();
      expect(await listKeys(d, 'blobs')).toEqual([]);
    });

    it('reads at positions into the caller\'s buffer, when it offers random access', async () => {
      const { driver: d } = await make();
      // S3 reads only front to back (next test): a GET streams, it does not seek.
      if (!d.openRandomAccess || d.name === 's3') return expect(d.name).toBe('s3');
      await d.put('blobs/sha256/ef/efgh', Buffer.from('0123456789'));
      const object = await d.openRandomAccess('blobs/sha256/ef/efgh');
      if (!object) throw new Error('openRandomAccess answered undefined for a local object');
      try {
        expect(object.size).toBe(10);
        const buffer = Buffer.alloc(6, '.');
        expect(await object.read(buffer, 1, 4, 3)).toBe(4);
        expect(buffer.toString()).toBe('.3456.');
        expect(await object.read(buffer, 0, 6, 8)).toBe(2);
        expect(await object.read(buffer, 0, 6, 10)).toBe(0);
      } finally {
        await object.close();
      }
      await expect(d.openRandomAccess('blobs/sha256/00/missing')).rejects.toBeInstanceOf(BlobNotFoundError);
    });

    it('reads a range front to back into the caller\'s buffers, as a blob GET does', async () => {
      const { driver: d } = await make();
      if (!d.openRandomAccess) return;
      const bytes = randomBytes(5 * 1024 * 1024 + 123);
      await d.put('blobs/sha256/fa/fa11', bytes);
      const range = { start: 1000, end: bytes.length - 2 };
      const object = await d.openRandomAccess('blobs/sha256/fa/fa11', range);
      if (!object) throw new Error('openRandomAccess answered undefined for a 5 MiB range');
      const got: Buffer[] = [];
      try {
        expect(object.size).toBe(bytes.length);
        // Pieces the size the HTTP layer uses, plus an odd one, each into a reused buffer.
        const buffer = Buffer.alloc(1024 * 1024);
        for (let at = range.start; at <= range.end; ) {
          const n = await object.read(buffer, 0, Math.min(at === range.start ? 777 : buffer.length, range.end + 1 - at), at);
          expect(n).toBeGreaterThan(0);
          got.push(Buffer.from(buffer.subarray(0, n)));
          at += n;
        }
      } finally {
        await object.close();
      }
      expect(Buffer.concat(got).equals(bytes.subarray(range.start, range.end + 1))).toBe(true);
      await expect(d.openRandomAccess('blobs/sha256/00/missing', { start: 0, end: 10 * 1024 * 1024 })).rejects.toBeInstanceOf(BlobNotFoundError);
    });

    it('refuses a range past the end of the object before any byte is read', async () => {
      const { driver: d } = await make();
      if (!d.openRandomAccess || d.name !== 's3') return;
      await d.put('blobs/sha256/fb/fb22', randomBytes(5 * 1024 * 1024));
      // The blob row says more bytes than S3 holds: an error now, not a body cut short later.
      await expect(d.openRandomAccess('blobs/sha256/fb/fb22', { start: 0, end: 6 * 1024 * 1024 - 1 })).rejects.toThrow(/5242880 bytes/);
    });

    it('throws BlobNotFoundError for missing objects', async () => {
      const { driver: d } = await make();
      await expect(d.read('blobs/sha256/00/missing')).rejects.toBeInstanceOf(BlobNotFoundError);
    });

    it('lists more than a thousand objects, page by page', async () => {
      const { driver: d } = await make();
      const keys = Array.from({ length: 1005 }, (_, i) => `blobs/many/${String(i).padStart(5, '0')}`);
      for (let i = 0; i < keys.length; i += 25) await Promise.all(keys.slice(i, i + 25).map((k) => d.put(k, Buffer.from(k))));
      const listed = await listKeys(d, 'blobs/many');
      expect(listed.sort()).toEqual(keys);
    }, 120_000);

    it('turns a session of several appends into an object under the digest key', async () => {
      const { driver: d } = await make();
      const chunks = [Buffer.from('hello '), Buffer.from('chunked '), Buffer.from('world')];
      const bytes = Buffer.concat(chunks);
      const { state, size } = await appendAll(d, 'a1111111-1111-4111-8111-111111111111', chunks);
      expect(size).toBe(bytes.length);
      const key = await d.sessions.finish('a1111111-1111-4111-8111-111111111111', state, size, digest(bytes));
      expect(key).toBe(blobKey(digest(bytes)));
      expect(await readAll(await d.read(key))).toEqual(bytes);
    });

    it('finishes an empty session', async () => {
      const { driver: d } = await make();
      const id = 'a2222222-2222-4222-8222-222222222222';
      const key = await d.sessions.finish(id, d.sessions.begin(id), 0, digest(Buffer.alloc(0)));
      expect(await d.stat(key)).toEqual({ size: 0 });
    });

    it('continues a session on another instance from the stored state alone', async () => {
      const { driver: a, another } = await make();
      const b = another();
      const id = 'a3333333-3333-4333-8333-333333333333';
      const first = randomBytes(3000);
      const second = randomBytes(5000);
      const one = await a.sessions.append(id, a.sessions.begin(id), 0, Readable.from([first]));
      await one.settle();
      const two = await b.sessions.append(id, stored(one.state), one.size, Readable.from([second]));
      await two.settle();
      const bytes = Buffer.concat([first, second]);
      const key = await a.sessions.finish(id, stored(two.state), two.size, digest(bytes));
      expect(await readAll(await b.read(key))).toEqual(bytes);
    });

    it('assembles a large blob from 1 MiB appends (below S3\'s 5 MiB part minimum), readable by range', async () => {
      const { driver: d, another } = await make();
      const id = 'a4444444-4444-4444-8444-444444444444';
      const bytes = randomBytes(13 * MiB + 12345);
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += MiB) chunks.push(bytes.subarray(at, at + MiB));
      const { state, size } = await appendAll(d, id, chunks);
      expect(size).toBe(bytes.length);
      const key = await another().sessions.finish(id, state, size, digest(bytes));
      expect(await d.stat(key)).toEqual({ size: bytes.length });
      const back = await readAll(await d.read(key));
      expect(back.equals(bytes)).toBe(true);
      const range = await readAll(await d.read(key, { start: 8 * MiB - 10, end: 8 * MiB + 9 }));
      expect(range.equals(bytes.subarray(8 * MiB - 10, 8 * MiB + 10))).toBe(true);
      // Nothing of the session is left once it finished.
      expect(await d.sessions.sweep(Date.now() + 60_000, async () => false)).toBe(0);
    }, 120_000);

    it('streams one large append into parts and keeps the state of a failed append', async () => {
      const { driver: d } = await make();
      const id = 'a5555555-5555-4555-8555-555555555555';
      const head = randomBytes(17 * MiB);
      const one = await d.sessions.append(id, d.sessions.begin(id), 0, Readable.from([head.subarray(0, 9 * MiB), head.subarray(9 * MiB)]));
      await one.settle();
      await expect(d.sessions.append(id, stored(one.state), one.size, failingAfter([randomBytes(6 * MiB)]))).rejects.toThrow('client went away');
      const tail = randomBytes(1000);
      const two = await d.sessions.append(id, stored(one.state), one.size, Readable.from([tail]));
      await two.settle();
      const bytes = Buffer.concat([head, tail]);
      expect(two.size).toBe(bytes.length);
      const key = await d.sessions.finish(id, stored(two.state), two.size, digest(bytes));
      expect((await readAll(await d.read(key))).equals(bytes)).toBe(true);
    }, 120_000);

    it('keeps unverified content away from digest keys', async () => {
      const { driver: d } = await make();
      const id = 'a6666666-6666-4666-8666-666666666666';
      const { state, size } = await appendAll(d, id, [Buffer.from('not yet verified')]);
      const key = await d.sessions.finish(id, state, size, undefined);
      expect(key).toBe(`blobs/uploads/${id}`);
      expect((await readAll(await d.read(key))).toString()).toBe('not yet verified');
    });

    it('an undone append leaves the stored state intact', async () => {
      const { driver: d } = await make();
      const id = 'a7777777-7777-4777-8777-777777777777';
      const first = await appendAll(d, id, [Buffer.from('kept ')]);
      const lost = await d.sessions.append(id, stored(first.state), first.size, Readable.from([Buffer.from('lost race')]));
      await lost.undo();
      const won = await d.sessions.append(id, stored(first.state), first.size, Readable.from([Buffer.from('won race')]));
      await won.settle();
      const bytes = Buffer.from('kept won race');
      const key = await d.sessions.finish(id, stored(won.state), won.size, digest(bytes));
      expect((await readAll(await d.read(key))).toString()).toBe('kept won race');
    });

    it('aborts sessions and sweeps what dead sessions left, sparing live ones', async () => {
      const { driver: d } = await make();
      const aborted = 'a8888888-8888-4888-8888-888888888888';
      const orphan = 'a9999999-9999-4999-8999-999999999999';
      const live = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
      const big = randomBytes(6 * MiB);
      const abortedState = await appendAll(d, aborted, [big, Buffer.from('tail')], 2);
      await appendAll(d, orphan, [big, Buffer.from('tail')], 2);
      const liveState = await appendAll(d, live, [Buffer.from('still going')]);
      await d.sessions.abort(aborted, abortedState.state);
      await d.sessions.abort(aborted, abortedState.state); // idempotent
      expect(await d.sessions.sweep(Date.now() - 60_000, async () => false)).toBe(0); // all too young
      const removed = await d.sessions.sweep(Date.now() + 60_000, async (id) => id === live);
      expect(removed).toBeGreaterThanOrEqual(1);
      expect(await d.sessions.sweep(Date.now() + 60_000, async (id) => id === live)).toBe(0);
      const bytes = Buffer.from('still going');
      const key = await d.sessions.finish(live, liveState.state, liveState.size, digest(bytes));
      expect((await readAll(await d.read(key))).toString()).toBe('still going');
    }, 60_000);

    it('hands out working presigned URLs where it can', async () => {
      const { driver: d } = await make();
      if (!d.presignGet) {
        expect(d.name).not.toBe('s3');
        return;
      }
      const bytes = randomBytes(4096);
      await d.put('blobs/sha256/ee/presigned', bytes);
      const url = await d.presignGet('blobs/sha256/ee/presigned', 600);
      expect(url).toMatch(/X-Amz-Expires=600/);
      const whole = await fetch(url);
      expect(whole.status).toBe(200);
      expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true);
      const part = await fetch(url, { headers: { range: 'bytes=100-199' } });
      expect(part.status).toBe(206);
      expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);
      const tampered = await fetch(url.replace('presigned', 'other'));
      expect(tampered.status).toBe(403);
    });
  });
}
