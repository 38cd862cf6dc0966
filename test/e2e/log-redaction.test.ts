/**
 * What the real server (dist/main.js) writes to its log never contains a credential: tokens in
 * query strings (`POST /v1/oauth/revoke?token=…`, `?access_token=`, `?password=` …) are
 * redacted in the access log, and a malformed request's error object (which carries the raw
 * request with its Authorization header) is logged without its bytes.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../support/raw-http.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
const secret = (label: string) => `${label}${randomBytes(8).toString('hex')}`;

beforeAll(async () => {
  server = await startServer({ args: ['--log-level', 'debug'] });
});
afterAll(() => server?.stop());

/** Log lines (JSON) written since `from`. */
async function linesSince(from: number, until: (lines: Record<string, unknown>[]) => boolean): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const lines = server.logs
      .slice(from)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    if (until(lines) || Date.now() > deadline) return lines;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the log of a real server', () => {
  it('redacts credentials in every logged URL', async () => {
    const from = server.logs.length;
    const revoked = `dop_v1_${randomBytes(32).toString('hex')}`;
    const secrets = [revoked, secret('access'), secret('refresh'), secret('pw'), secret('client'), secret('enc'), secret('form')];
    const [, access, refresh, password, client, encoded] = secrets;
    await (await fetch(`${server.apiUrl}/v1/oauth/revoke?token=${revoked}`, { method: 'POST' })).arrayBuffer();
    await (await server.api(`/v2/registries?access_token=${access}&refresh_token=${refresh}&password=${password}&client_secret=${client}&%74oken=${encoded}&page=1`)).arrayBuffer();
    await (await fetch(`${server.registryUrl}/auth/token?service=x&scope=repository:a/b:pull&password=${password}`, { headers: { authorization: `Basic ${Buffer.from(`x:${revoked}`).toString('base64')}` } })).arrayBuffer();
    await (await fetch(`${server.registryUrl}/v2/?token=${revoked}`, { headers: { cookie: `session=${access}`, 'proxy-authorization': `Basic ${refresh}` } })).arrayBuffer();
    // Only this test's requests (the readiness probes' lines may arrive late).
    const ours = (l: Record<string, unknown>) => l.msg === 'request' && String(l.url).includes('?');
    const lines = await linesSince(from, (l) => l.filter(ours).length >= 4);
    const requests = lines.filter(ours);
    expect(requests.map((l) => l.url)).toEqual([
      '/v1/oauth/revoke?token=[REDACTED]',
      '/v2/registries?access_token=[REDACTED]&refresh_token=[REDACTED]&password=[REDACTED]&client_secret=[REDACTED]&%74oken=[REDACTED]&page=1',
      '/auth/token?service=x&scope=repository:a/b:pull&password=[REDACTED]',
      '/v2/?token=[REDACTED]',
    ]);
    const text = server.logs.slice(from);
    for (const s of [...secrets, server.token]) expect(text).not.toContain(s);
  });

  it('logs a malformed request’s error without the request’s bytes or credentials', async () => {
    const from = server.logs.length;
    const token = `dop_v1_${randomBytes(32).toString('hex')}`;
    const port = Number(new URL(server.apiUrl).port);
    const res = await rawRequest({ port }, `GET /v2/registries?token=${token} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nX-Bad: a\u0001b\r\n\r\n`);
    expect(res.status).toBe(400);
    const lines = await linesSince(from, (l) => l.some((x) => x.msg === 'malformed request refused'));
    const line = lines.find((l) => l.msg === 'malformed request refused');
    expect(line, server.logs.slice(from)).toBeDefined();
    const err = line!.err as Record<string, unknown>;
    expect(err.code).toBe('HPE_INVALID_HEADER_TOKEN');
    expect(err.rawPacket).toMatch(/^\[\d+ bytes\]$/);
    expect(server.logs.slice(from)).not.toContain(token.slice(7));
  });
});
