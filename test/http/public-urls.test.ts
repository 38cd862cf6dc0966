/**
 * URLs Berth hands out (the token realm in WWW-Authenticate, upload Locations, page links) come
 * from configuration, never from what the client wrote: a hostile Host header cannot break out
 * of the challenge's quoted string, and X-Forwarded-Proto/-Host count only from a proxy listed
 * in --trust-proxy, and only when they are a scheme and a host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushImage, REGISTRY_HOST, startHarness, type Harness } from '../harness.js';
import { rawRequest } from '../support/raw-http.js';

/** GET /v2/ with the given headers; returns the challenge. */
async function challengeFor(h: Harness, headers: Record<string, string>): Promise<string> {
  const lines = Object.entries({ Host: 'x', ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const res = await rawRequest({ port: Number(new URL(h.registryUrl).port) }, `GET /v2/ HTTP/1.1\r\n${lines}\r\n`);
  expect(res.status).toBe(401);
  return res.headers['www-authenticate']!;
}

const realm = (origin: string) => `Bearer realm="${origin}/auth/token",service="${REGISTRY_HOST}"`;

describe('without --trust-proxy', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h?.close());

  it('the realm is the configured registry host whatever Host the client sends', async () => {
    for (const host of ['evil"', 'evil", service="x', 'registry.example.net:5443', 'a b', '']) {
      expect(await challengeFor(h, { Host: host })).toBe(realm(`http://${REGISTRY_HOST}`));
    }
  });

  it('X-Forwarded-Proto and X-Forwarded-Host from an untrusted peer are ignored', async () => {
    expect(await challengeFor(h, { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil.example.com' })).toBe(realm(`http://${REGISTRY_HOST}`));
  });

  it('upload Locations are paths on this registry, whatever the Host header says', async () => {
    await h.createRegistry('urls');
    const jwt = await h.jwt(h.token, 'repository:urls/app:pull,push');
    const port = Number(new URL(h.registryUrl).port);
    const res = await rawRequest({ port }, `POST /v2/urls/app/blobs/uploads/ HTTP/1.1\r\nHost: evil.example.com\r\nX-Forwarded-Host: evil.example.com\r\nAuthorization: Bearer ${jwt}\r\nContent-Length: 0\r\n\r\n`);
    expect(res.status).toBe(202);
    expect(res.headers.location).toMatch(/^\/v2\/urls\/app\/blobs\/uploads\/[0-9a-f-]+\?_state=0$/);
  });

  it('page links are built from --api-url and the route, not from the path as the client wrote it', async () => {
    await h.createRegistry('links');
    const jwt = await h.jwt(h.token, 'repository:links/ns/app:pull,push');
    await pushImage(h, jwt, 'links/ns/app', 'v1');
    await pushImage(h, jwt, 'links/ns/app', 'v2');
    const port = Number(new URL(h.apiUrl).port);
    // `%2f` in lower case and a needless `%61` for "a": the same resource, written oddly.
    const res = await rawRequest(
      { port },
      `GET /v2/registries/links/repositories/ns%2f%61pp/tags?per_page=1 HTTP/1.1\r\nHost: evil.example.com\r\nX-Forwarded-Host: evil.example.com\r\nX-Forwarded-Proto: https\r\nAuthorization: Bearer ${h.token}\r\n\r\n`,
    );
    expect(res.status, res.text).toBe(200);
    const links = (JSON.parse(res.text) as { links: { pages: Record<string, string> } }).links.pages;
    expect(links.next).toBe(`${h.ctx.config.apiUrl}/v2/registries/links/repositories/ns%2Fapp/tags?page=2&per_page=1`);
    expect(links.last).toBe(`${h.ctx.config.apiUrl}/v2/registries/links/repositories/ns%2Fapp/tags?page=2&per_page=1`);
  });
});

describe('with --trust-proxy 127.0.0.1 (the tests connect from there)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ trustProxy: '127.0.0.1' });
  });
  afterAll(() => h?.close());

  it('a TLS-terminating proxy’s X-Forwarded-Proto: https gives an https realm', async () => {
    expect(await challengeFor(h, { 'X-Forwarded-Proto': 'https' })).toBe(realm(`https://${REGISTRY_HOST}`));
    expect(await challengeFor(h, { 'X-Forwarded-Proto': 'HTTPS' })).toBe(realm(`https://${REGISTRY_HOST}`));
  });

  it('its X-Forwarded-Host names the host when it is one', async () => {
    expect(await challengeFor(h, { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'Registry.Example.com:8443' })).toBe(realm('https://registry.example.com:8443'));
    expect(await challengeFor(h, { 'X-Forwarded-Host': '[2001:db8::1]:5000' })).toBe(realm('http://[2001:db8::1]:5000'));
  });

  it('values that are not a scheme or a host are ignored, never echoed', async () => {
    for (const [proto, host] of [
      ['javascript', 'evil"'],
      ['https"', 'a b'],
      ['ftp', 'evil.example.com/path'],
      ['', 'evil.example.com@x'],
      ['http', `${'a'.repeat(64)}.example.com`],
    ]) {
      const challenge = await challengeFor(h, { 'X-Forwarded-Proto': proto!, 'X-Forwarded-Host': host! });
      expect(challenge, `${proto} ${host}`).toBe(realm(`http://${REGISTRY_HOST}`));
    }
  });

  it('of several values the nearest proxy’s (the last) counts', async () => {
    expect(await challengeFor(h, { 'X-Forwarded-Proto': 'http, https', 'X-Forwarded-Host': 'spoofed.example.com, registry.example.com' })).toBe(realm('https://registry.example.com'));
  });
});

describe('with --trust-proxy naming other addresses', () => {
  it('a peer outside the list is not believed', async () => {
    const h = await startHarness({ trustProxy: '10.0.0.0/8, 192.168.1.1, uniquelocal' });
    try {
      expect(await challengeFor(h, { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'registry.example.com' })).toBe(realm(`http://${REGISTRY_HOST}`));
    } finally {
      await h.close();
    }
  });
});
