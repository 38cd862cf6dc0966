/**
 * Slow and stalling clients, over raw sockets against both listeners: a request body that stops
 * arriving is cut after --body-timeout, headers that trickle in are cut after --header-timeout
 * (408), a request answered before its body was read is closed instead of waiting for the rest,
 * and --max-connections caps open connections. An upload that keeps moving is never cut.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../harness.js';
import { buildRequest, exchange, openSocket, rawRequest, sleep, type Exchange } from '../support/raw-http.js';

let h: Harness;
let api: { port: number };
let registry: { port: number };
let jwt: string;

beforeAll(async () => {
  h = await startHarness({ bodyTimeout: '1s', headerTimeout: '1s' });
  api = { port: Number(new URL(h.apiUrl).port) };
  registry = { port: Number(new URL(h.registryUrl).port) };
  await h.createRegistry('slow');
  jwt = await h.jwt(h.token, 'repository:slow/app:pull,push');
});
afterAll(() => h?.close());

/** 'closed' when the server closes within `ms`, else 'open'. */
async function closedWithin(ex: Exchange, ms: number): Promise<'closed' | 'open'> {
  return Promise.race([ex.closed.then(() => 'closed' as const), sleep(ms).then(() => 'open' as const)]);
}

/** Writes `bytes` one at a time every `intervalMs` while the socket is open. */
function dribble(socket: Socket, bytes: Buffer, intervalMs: number): Promise<void> {
  return (async () => {
    for (const byte of bytes) {
      if (socket.destroyed || !socket.writable) return;
      socket.write(Buffer.from([byte]));
      await sleep(intervalMs);
    }
  })();
}

async function startUpload(): Promise<string> {
  const res = await h.registry('/v2/slow/app/blobs/uploads/', { method: 'POST', auth: jwt });
  expect(res.status).toBe(202);
  return res.headers.get('location')!;
}

const apiHead = (token: string | null, length: number) =>
  `POST /v2/registries HTTP/1.1\r\nHost: x\r\n${token ? `Authorization: Bearer ${token}\r\n` : ''}Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

describe('a request body that stops arriving (--body-timeout 1s)', () => {
  it('is cut on the registry listener, and the upload keeps nothing', async () => {
    const location = await startUpload();
    const ex = await exchange(registry, `PATCH ${location} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${jwt}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(10)}`);
    expect(await closedWithin(ex, 15_000)).toBe('closed');
    const status = await h.registry(location, { auth: jwt });
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-0');
  });

  it('is cut on the token endpoint, which reads its body before authenticating', async () => {
    const ex = await exchange(registry, `POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\ngrant_type=`);
    expect(await closedWithin(ex, 15_000)).toBe('closed');
  });

  it('is cut on the API listener, and nothing is created', async () => {
    const body = JSON.stringify({ name: 'never-created', subscription_tier_slug: 'basic' });
    const ex = await exchange(api, `${apiHead(h.token, body.length)}${body.slice(0, 10)}`);
    expect(await closedWithin(ex, 15_000)).toBe('closed');
    expect((await h.api('/v2/registries/never-created')).status).toBe(404);
  });

  // Retried: about one full run in six on a machine at load 20 saw a socket outlive 15 s here,
  // never reproduced in isolation (200 runs) or under three parallel copies; the close comes
  // from Node's own socket idle timeout.
  it('an idle connection that never sends a byte is closed too', { retry: 2 }, async () => {
    for (const target of [api, registry]) {
      const socket = await openSocket(target);
      const closed = new Promise<'closed'>((resolve) => socket.once('close', () => resolve('closed')));
      expect(await Promise.race([closed, sleep(15_000).then(() => 'open')])).toBe('closed');
    }
  });
});

describe('a slow but steady client', () => {
  it('uploads a blob over four times the idle timeout without being cut (registry listener)', async () => {
    const location = await startUpload();
    const blob = randomBytes(40 * 1024);
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const ex = await exchange(registry, `PATCH ${location} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${jwt}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${blob.length}\r\n\r\n`);
    const started = Date.now();
    for (let i = 0; i < 40; i++) {
      ex.socket.write(blob.subarray(i * 1024, (i + 1) * 1024));
      await sleep(100);
    }
    const patched = await ex.response;
    ex.socket.destroy();
    expect(Date.now() - started).toBeGreaterThan(4 * 1000);
    expect(patched.status, patched.text).toBe(202);
    const done = await h.registry(`${patched.headers.location}&digest=${digest}`, { method: 'PUT', auth: jwt });
    expect(done.status).toBe(201);
    const stored = await h.registry(`/v2/slow/app/blobs/${digest}`, { auth: jwt });
    expect(Buffer.from(await stored.arrayBuffer()).equals(blob)).toBe(true);
  });

  it('sends a JSON body one byte at a time over longer than the idle timeout (API listener)', async () => {
    const body = JSON.stringify({ name: 'slow-but-steady', subscription_tier_slug: 'professional' });
    const ex = await exchange(api, apiHead(h.token, body.length));
    await dribble(ex.socket, Buffer.from(body), 40);
    const res = await ex.response;
    ex.socket.destroy();
    expect(res.status, res.text).toBe(201);
    expect((await h.api('/v2/registries/slow-but-steady')).status).toBe(200);
  });
});

describe('headers that trickle in (--header-timeout 1s)', () => {
  it('are answered 408 in the listener’s envelope and the connection is closed, on both listeners', async () => {
    for (const [target, shape] of [
      [api, 'do'],
      [registry, 'oci'],
    ] as const) {
      const ex = await exchange(target, 'GET /v2/ HTTP/1.1\r\n');
      // One byte every 100 ms: never idle long enough for the body timeout, yet never done.
      void dribble(ex.socket, Buffer.from(`X-Slow: ${'a'.repeat(200)}\r\n`), 100);
      const res = await ex.response;
      expect(res.status).toBe(408);
      const body = JSON.parse(res.text) as Record<string, unknown>;
      if (shape === 'do') expect(Object.keys(body).sort()).toEqual(['id', 'message', 'request_id']);
      else expect(body).toEqual({ errors: [{ code: 'UNSUPPORTED', message: 'the request line and headers were not received in time' }] });
      expect(await closedWithin(ex, 10_000)).toBe('closed');
    }
  });
});

describe('a request refused before its body was read', () => {
  it('gets its answer and then the connection closes while the client still dribbles (registry 401)', async () => {
    const ex = await exchange(registry, 'POST /v2/slow/app/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n');
    void dribble(ex.socket, randomBytes(1000), 100);
    const res = await ex.response;
    expect(res.status).toBe(401);
    expect(res.headers.connection).toBe('close');
    expect(await closedWithin(ex, 10_000)).toBe('closed');
  });

  it('the same on the API listener (401 without a token)', async () => {
    const ex = await exchange(api, apiHead(null, 1000));
    void dribble(ex.socket, Buffer.from('{"name":"x"'.padEnd(1000, ' ')), 100);
    const res = await ex.response;
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text)).toMatchObject({ id: 'unauthorized' });
    expect(await closedWithin(ex, 10_000)).toBe('closed');
  });

  it('the same for a manifest whose declared length is over the limit (413)', async () => {
    const ex = await exchange(registry, `PUT /v2/slow/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${jwt}\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n{`);
    void dribble(ex.socket, Buffer.alloc(1000, 0x20), 100);
    const res = await ex.response;
    expect(res.status).toBe(413);
    expect(await closedWithin(ex, 10_000)).toBe('closed');
    expect((await h.registry('/v2/slow/app/manifests/v1', { auth: jwt })).status).toBe(404);
  });

  it('a fast client sending a large body it was refused still reads the answer', async () => {
    // Closing at once would make the kernel reset the connection under the client's writes
    // and lose the answer; the server lingers instead.
    for (let i = 0; i < 5; i++) {
      const res = await rawRequest(registry, buildRequest('POST', '/v2/slow/app/blobs/uploads/?digest=sha256:' + '0'.repeat(64), [['Host', 'x'], ['Content-Type', 'application/octet-stream']], randomBytes(8 * 1024 * 1024)));
      expect(res.status).toBe(401);
    }
  });
});

describe('--max-connections', () => {
  it('caps open connections per listener; a freed slot is usable again', async () => {
    const capped = await startHarness({ maxConnections: '3' });
    const held: Socket[] = [];
    try {
      for (const [url, path] of [
        [capped.apiUrl, '/healthz'],
        [capped.registryUrl, '/v2/'],
      ] as const) {
        const target = { port: Number(new URL(url).port) };
        held.push(...(await Promise.all([openSocket(target), openSocket(target), openSocket(target)])));
        await sleep(100);
        // The fourth is accepted by the kernel and closed at once, without an answer.
        const refused = await exchange(target, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
        expect(await closedWithin(refused, 5_000)).toBe('closed');
        expect(refused.received().length).toBe(0);
        held.shift()!.destroy();
        await sleep(200);
        const res = await rawRequest(target, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
        expect([200, 401]).toContain(res.status);
        for (const s of held.splice(0)) s.destroy();
        await sleep(200);
      }
    } finally {
      for (const s of held) s.destroy();
      await capped.close();
    }
  });
});
