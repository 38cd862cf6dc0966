/**
 * How the API listener serves the web console's build (src/http/ui.ts): index.html for the
 * client's routes and never cached, hashed assets cached for good, a content security policy
 * without 'unsafe-inline' that the built markup needs no exception from, compression and
 * revalidation, nothing shadowing the API, no rate limiting of static files, and `--ui=false`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, CONSOLE_DIR, registerConsole } from '../../src/http/ui.js';
import { startHarness, type Harness } from '../harness.js';
import { makeTempDir } from '../support/tmp.js';
import { isCI } from '../support/tools.js';

const built = existsSync(join(CONSOLE_DIR, 'index.html'));

// Without a build there is nothing to serve; under CI that is a failure (npm test builds first).
describe.skipIf(!built && !isCI())('the built console on the API listener', () => {
  let h: Harness;
  let index: string;
  beforeAll(async () => {
    expect(built, `${CONSOLE_DIR} is missing: npm run build builds the console`).toBe(true);
    h = await startHarness({ rateLimitPerMinute: '3' });
    index = readFileSync(join(CONSOLE_DIR, 'index.html'), 'utf8');
  });
  afterAll(async () => h?.close());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${h.apiUrl}${path}`, { headers });

  it('answers / and every client route with index.html, never cached, under a strict policy', async () => {
    for (const path of ['/', '/sign-in', '/registries', '/registries/demo', '/registries/demo/access', '/registries/demo/repositories/shop/frontend', '/subscription', '/create-registry']) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(await res.text()).toBe(index);
    }
  });

  it('has a policy with no unsafe-inline, and markup that needs none', () => {
    expect(CONSOLE_CSP).not.toContain('unsafe-inline');
    expect(CONSOLE_CSP).not.toContain('unsafe-eval');
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).toContain("style-src 'self'");
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
    // Every script and stylesheet is a file; no inline code, no style attributes.
    expect(index).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(index).not.toMatch(/<style/i);
    expect(index).not.toMatch(/\sstyle=/i);
    expect(index).not.toMatch(/\son[a-z]+=/i);
  });

  it('serves hashed assets for a year, compressed when asked, revalidated by ETag', async () => {
    const assets = [...index.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
    expect(assets.some((a) => a.endsWith('.css'))).toBe(true);
    for (const asset of assets) {
      expect(asset).toMatch(/-[A-Za-z0-9_-]{8,}\.(js|css)$/);
      const plain = await get(asset);
      expect(plain.status).toBe(200);
      expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(plain.headers.get('content-type')).toBe(asset.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
      const bytes = Buffer.from(await plain.arrayBuffer());
      expect(bytes.equals(readFileSync(join(CONSOLE_DIR, asset)))).toBe(true);

      // Node's fetch decodes content-encoding itself, so compare by hand through raw headers.
      const br = await fetch(`${h.apiUrl}${asset}`, { headers: { 'accept-encoding': 'br' } });
      expect(br.headers.get('content-encoding')).toBe('br');
      expect(br.headers.get('vary')).toBe('accept-encoding');
      expect(Buffer.from(await br.arrayBuffer()).equals(bytes)).toBe(true);
      const gz = await rawGet(`${h.apiUrl}${asset}`, { 'accept-encoding': 'gzip' });
      expect(gz.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(gz.body).equals(bytes)).toBe(true);
      const brRaw = await rawGet(`${h.apiUrl}${asset}`, { 'accept-encoding': 'br;q=1, gzip;q=0.5' });
      expect(brotliDecompressSync(brRaw.body).equals(bytes)).toBe(true);

      const again = await get(asset, { 'if-none-match': plain.headers.get('etag')! });
      expect(again.status).toBe(304);
    }
    const favicon = await get('/favicon.svg');
    expect([favicon.status, favicon.headers.get('content-type'), favicon.headers.get('cache-control')]).toEqual([200, 'image/svg+xml', 'no-cache']);
  });

  it('shadows nothing of the API', async () => {
    const unauthenticated = await get('/v2/registries');
    expect(unauthenticated.status).toBe(401);
    expect(await unauthenticated.json()).toMatchObject({ id: 'unauthorized' });
    const unknown = await h.api('/v2/registries/nope/repositoriesV2');
    expect([unknown.status, ((await unknown.json()) as { id: string }).id]).toEqual([404, 'not_found']);
    const notAPath = await get('/v2/whatever');
    expect([notAPath.status, notAPath.headers.get('content-type')]).toEqual([404, 'application/json; charset=utf-8']);
    expect(await (await get('/healthz')).json()).toMatchObject({ status: 'ok', checks: { database: { status: 'ok' }, storage: { status: 'ok' } } });
    expect(await (await get('/readyz')).json()).toEqual({ status: 'ready' });
    expect(await (await get('/livez')).json()).toEqual({ status: 'alive' });
    const openapi = (await (await get('/openapi.json')).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths).every((p) => p.startsWith('/v2/') || p.startsWith('/v1/'))).toBe(true);
    const missingAsset = await get('/assets/missing-12345678.js');
    expect([missingAsset.status, ((await missingAsset.json()) as { id: string }).id]).toEqual([404, 'not_found']);
    // A path outside the console's routes is the API's 404, not the page.
    expect((await get('/elsewhere')).status).toBe(404);
  });

  it('does not count the console’s files against the API rate limit', async () => {
    for (let i = 0; i < 6; i++) {
      const res = await get('/registries');
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-limit')).toBeNull();
    }
  });
});

describe('--ui=false', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ ui: 'false' });
  });
  afterAll(async () => h.close());

  it('serves the API without the console', async () => {
    for (const path of ['/', '/registries', '/sign-in']) {
      const res = await fetch(`${h.apiUrl}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.json()).toMatchObject({ id: 'not_found' });
    }
    expect((await h.api('/v2/registries')).status).toBe(200);
  });
});

describe('the console module', () => {
  it('mounts nothing, with a warning, when the console was not built', async () => {
    const app = Fastify();
    const warnings: unknown[] = [];
    registerConsole(app, { ...app.log, warn: (...args: unknown[]) => warnings.push(args) } as never, await makeTempDir('no-console'));
    expect((await app.inject({ url: '/' })).statusCode).toBe(404);
    expect(warnings).toHaveLength(1);
    await app.close();
  });

  it('never serves a file it did not load: no traversal, no source maps', async () => {
    const dir = await makeTempDir('console');
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>t</title>');
    await writeFile(join(dir, 'assets', 'app-AbCdEf12.js'), 'console.log(1)');
    await writeFile(join(dir, 'assets', 'app-AbCdEf12.js.map'), '{}');
    await writeFile(join(dir, 'secret.txt.bak'), 'secret');
    const app = Fastify();
    registerConsole(app, app.log, dir);
    expect((await app.inject({ url: '/assets/app-AbCdEf12.js' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/assets/app-AbCdEf12.js.map' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/assets/../index.html' })).statusCode).not.toBe(200);
    expect((await app.inject({ url: '/assets/%2e%2e/secret.txt.bak' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/secret.txt.bak' })).statusCode).toBe(404);
    const head = await app.inject({ method: 'HEAD', url: '/registries' });
    expect([head.statusCode, head.body]).toEqual([200, '']);
    await app.close();
  });
});

/** A GET whose body is returned as sent (fetch would undo the content encoding). */
async function rawGet(url: string, headers: Record<string, string>): Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
}
