/**
 * The Docker token protocol on the registry listener, over raw HTTP: the 401 challenge, the
 * token endpoint's answer, what a token grants (the intersection of what was asked and what
 * the credential allows) and credentials that must not work.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { basicAuth, describeResponse, registryFetch, registryToken } from '../support/registry.js';
import { startServer, uniqueName, type Credentials, type TestServer } from '../support/server.js';

interface TokenBody {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
}

interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

function jwtAccess(token: string): AccessEntry[] {
  const [, payload] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as { access?: AccessEntry[] };
  return claims.access ?? [];
}

describe('Docker token authentication', { timeout: 60_000 }, () => {
  let server: TestServer;
  let registry: string;
  let other: string;
  let readWrite: Credentials;
  let readOnly: Credentials;

  beforeAll(async () => {
    server = await startServer();
    registry = uniqueName('auth');
    other = uniqueName('other');
    await server.createRegistry(registry);
    await server.createRegistry(other);
    readWrite = server.credentialsOf(await server.dockerCredentials(registry, { readWrite: true }));
    readOnly = server.credentialsOf(await server.dockerCredentials(registry, { readWrite: false }));
  });

  afterAll(async () => {
    await server?.stop();
  });

  async function getToken(credentials: Credentials | undefined, scope?: string): Promise<Response> {
    const query = new URLSearchParams({ service: server.registryHost });
    if (scope) query.set('scope', scope);
    const headers: Record<string, string> = credentials ? { authorization: basicAuth(credentials) } : {};
    return fetch(`${server.registryUrl}/auth/token?${query}`, { headers });
  }

  test('unauthenticated requests get a Bearer challenge naming the realm, service and scope', async () => {
    const realm = `realm="http://${server.registryHost}/auth/token"`;
    const service = `service="${server.registryHost}"`;

    const base = await registryFetch(server, undefined, '/v2/');
    expect(base.status, await describeResponse('GET', '/v2/', base)).toBe(401);
    const baseChallenge = base.headers.get('www-authenticate') ?? '';
    expect(baseChallenge).toMatch(/^Bearer /);
    expect(baseChallenge).toContain(realm);
    expect(baseChallenge).toContain(service);

    const pullPath = `/v2/${registry}/app/tags/list`;
    const pull = await registryFetch(server, undefined, pullPath);
    expect(pull.status, await describeResponse('GET', pullPath, pull)).toBe(401);
    const pullChallenge = pull.headers.get('www-authenticate') ?? '';
    expect(pullChallenge).toMatch(/^Bearer /);
    expect(pullChallenge).toContain(realm);
    expect(pullChallenge).toContain(service);
    expect(pullChallenge).toContain(`scope="repository:${registry}/app:pull"`);

    const pushPath = `/v2/${registry}/app/blobs/uploads/`;
    const push = await registryFetch(server, undefined, pushPath, { method: 'POST' });
    expect(push.status, await describeResponse('POST', pushPath, push)).toBe(401);
    const pushChallenge = push.headers.get('www-authenticate') ?? '';
    expect(pushChallenge).toMatch(/scope="repository:[^"]*:(pull,push|push,pull)"/);
    const errors = (await push.json()) as { errors: { code: string }[] };
    expect(errors.errors[0]?.code).toBe('UNAUTHORIZED');
  });

  test('GET /auth/token with Basic credentials returns a token document', async () => {
    const scope = `repository:${registry}/app:pull,push`;
    const response = await getToken(readWrite, scope);
    expect(response.status, await describeResponse('GET', '/auth/token', response)).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as TokenBody;
    expect(typeof body.token).toBe('string');
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBeGreaterThan(0);
    expect(body.expires_in).toBeLessThanOrEqual(15 * 60);
    expect(Number.isNaN(Date.parse(body.issued_at))).toBe(false);
    expect(Math.abs(Date.parse(body.issued_at) - Date.now())).toBeLessThan(60_000);
    expect(jwtAccess(body.token)).toEqual([{ type: 'repository', name: `${registry}/app`, actions: expect.arrayContaining(['pull', 'push']) }]);

    const path = `/v2/${registry}/app/tags/list`;
    const base = await registryFetch(server, body.token, '/v2/');
    expect(base.status, await describeResponse('GET', '/v2/', base)).toBe(200);
    const tags = await registryFetch(server, body.token, path);
    expect(tags.status, await describeResponse('GET', path, tags)).toBe(404);
    expect(((await tags.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('NAME_UNKNOWN');
  });

  test('an API token works as the password too (any username)', async () => {
    const token = await registryToken(server, { username: 'anything', password: server.token }, `repository:${registry}/app:pull,push`);
    expect(jwtAccess(token)[0]?.actions).toEqual(expect.arrayContaining(['pull', 'push']));
  });

  test('a read-only credential is granted pull but not push', async () => {
    const response = await getToken(readOnly, `repository:${registry}/app:pull,push`);
    expect(response.status, await describeResponse('GET', '/auth/token', response)).toBe(200);
    const body = (await response.json()) as TokenBody;
    const granted = jwtAccess(body.token).flatMap((entry) => entry.actions);
    expect(granted).toContain('pull');
    expect(granted).not.toContain('push');

    const path = `/v2/${registry}/app/blobs/uploads/`;
    const upload = await registryFetch(server, body.token, path, { method: 'POST' });
    expect([401, 403], await describeResponse('POST', path, upload)).toContain(upload.status);
    expect(((await upload.json()) as { errors: { code: string }[] }).errors[0]?.code).toMatch(/DENIED|UNAUTHORIZED/);
  });

  test("a registry's docker credential grants nothing in another registry", async () => {
    const response = await getToken(readWrite, `repository:${other}/app:pull,push`);
    expect(response.status, await describeResponse('GET', '/auth/token', response)).toBe(200);
    const token = ((await response.json()) as TokenBody).token;
    expect(jwtAccess(token).flatMap((entry) => entry.actions)).toEqual([]);
    const path = `/v2/${other}/app/tags/list`;
    const tags = await registryFetch(server, token, path);
    expect([401, 403], await describeResponse('GET', path, tags)).toContain(tags.status);
  });

  test('bad, missing and expired credentials are refused', async () => {
    const wrong = await getToken({ username: readWrite.username, password: 'dop_v1_' + '0'.repeat(64) }, `repository:${registry}/app:pull`);
    expect(wrong.status, await describeResponse('GET', '/auth/token', wrong)).toBe(401);

    const garbage = await registryFetch(server, 'not-a-jwt', `/v2/${registry}/app/tags/list`);
    expect(garbage.status, await describeResponse('GET', '/v2/…/tags/list', garbage)).toBe(401);

    const expiring = server.credentialsOf(await server.dockerCredentials(registry, { readWrite: false, expirySeconds: 1 }));
    const fresh = await getToken(expiring, `repository:${registry}/app:pull`);
    expect(fresh.status, await describeResponse('GET', '/auth/token', fresh)).toBe(200);
    await new Promise((r) => setTimeout(r, 2_100));
    const expired = await getToken(expiring, `repository:${registry}/app:pull`);
    expect(expired.status, await describeResponse('GET', '/auth/token', expired)).toBe(401);
  });
});
