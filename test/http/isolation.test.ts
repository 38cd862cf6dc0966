/**
 * Team isolation: team B can neither pull, push, mount from, list nor learn of team A's
 * registries, repositories and blobs, on the registry listener (JWTs and Basic auth) and on
 * the API listener. Wherever B asks about something of A's, the answer must be the same as for
 * something that does not exist at all.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, pushBlob, pushImage, REGISTRY_HOST, startHarness, type Harness } from '../harness.js';

interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
  reason?: string;
}

interface OciError {
  code: string;
  message: string;
}

function claimsOf(jwt: string): { access: AccessEntry[]; denied?: AccessEntry[] } {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { access: AccessEntry[]; denied?: AccessEntry[] };
}

async function ociError(res: Response): Promise<OciError> {
  return ((await res.json()) as { errors: OciError[] }).errors[0]!;
}

let h: Harness;
/** Team B's full-access API token; team A is the harness's bootstrap team. */
let tokenB: string;
let jwtA: string;
let imageA: { manifest: string; config: string; layer: string; bytes: Buffer };
let imageB: { manifest: string; config: string; layer: string };

beforeAll(async () => {
  h = await startHarness();
  await h.createRegistry('alpha');
  tokenB = await h.newTeam('team-b');
  await h.createRegistry('bravo', tokenB);
  jwtA = await h.jwt(h.token, 'repository:alpha/app:pull,push,delete', 'repository:alpha/other:pull,push', 'registry:catalog:*');
  imageA = await pushImage(h, jwtA, 'alpha/app', 'v1');
  const jwtB = await h.jwt(tokenB, 'repository:bravo/app:pull,push');
  imageB = await pushImage(h, jwtB, 'bravo/app', 'v1');
});
afterAll(() => h?.close());

/**
 * Requests the same thing of A's repository and of a repository in a registry that does not
 * exist, and expects identical answers (status, OCI code, message with the name swapped).
 */
async function expectSameAsNonexistent(method: string, pathFor: (repo: string) => string, auth: string | { basic: string }): Promise<{ status: number; error?: OciError }> {
  const theirs = await h.registry(pathFor('alpha/app'), { method, auth });
  const nowhere = await h.registry(pathFor('zulu/app'), { method, auth });
  expect(theirs.status, `${method} ${pathFor('alpha/app')}`).toBe(nowhere.status);
  expect(theirs.headers.get('www-authenticate')?.replaceAll('alpha/app', 'X')).toBe(nowhere.headers.get('www-authenticate')?.replaceAll('zulu/app', 'X'));
  if (method === 'HEAD') {
    await theirs.arrayBuffer();
    await nowhere.arrayBuffer();
    return { status: theirs.status };
  }
  const a = await ociError(theirs);
  const z = await ociError(nowhere);
  expect(a.code).toBe(z.code);
  expect(a.message.replaceAll('alpha/app', 'X')).toBe(z.message.replaceAll('zulu/app', 'X'));
  return { status: theirs.status, error: a };
}

describe('tokens', () => {
  it("B's token gets no access to A's names, with the same denial as for a name that does not exist", async () => {
    for (const password of [tokenB, await h.dockerPassword('bravo', { readWrite: true, token: tokenB })]) {
      const jwt = await h.jwt(password, 'repository:alpha/app:pull,push,delete', 'repository:zulu/app:pull,push,delete', 'repository:bravo/app:pull');
      const claims = claimsOf(jwt);
      expect(claims.access).toEqual([{ type: 'repository', name: 'bravo/app', actions: ['pull'] }]);
      const deniedA = claims.denied?.find((d) => d.name === 'alpha/app');
      const deniedZ = claims.denied?.find((d) => d.name === 'zulu/app');
      expect(deniedA?.reason).toBe(deniedZ?.reason);
    }
  });

  it('the OAuth2 password grant gives B nothing of A either', async () => {
    const res = await h.registry('/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: 'b', password: tokenB, service: REGISTRY_HOST, scope: 'repository:alpha/app:*' }).toString(),
    });
    expect(res.status).toBe(200);
    expect(claimsOf(((await res.json()) as { access_token: string }).access_token).access).toEqual([]);
  });
});

describe('pull', () => {
  it("B cannot pull A's manifests, blobs or tags with a JWT that asked for them (403, as if they did not exist)", async () => {
    const jwt = await h.jwt(tokenB, 'repository:alpha/app:pull', 'repository:zulu/app:pull');
    const paths: [string, (repo: string) => string][] = [
      ['GET', (r) => `/v2/${r}/manifests/v1`],
      ['GET', (r) => `/v2/${r}/manifests/${imageA.manifest}`],
      ['HEAD', (r) => `/v2/${r}/manifests/v1`],
      ['GET', (r) => `/v2/${r}/blobs/${imageA.layer}`],
      ['HEAD', (r) => `/v2/${r}/blobs/${imageA.layer}`],
      ['GET', (r) => `/v2/${r}/tags/list`],
      ['GET', (r) => `/v2/${r}/referrers/${imageA.manifest}`],
    ];
    for (const [method, path] of paths) {
      const { status, error } = await expectSameAsNonexistent(method, path, jwt);
      expect(status, `${method} ${path('alpha/app')}`).toBe(403);
      if (error) expect(error.code).toBe('DENIED');
    }
  });

  it("B's JWT that did not ask for A's repository is 401 insufficient_scope, as for a name that does not exist", async () => {
    const jwt = await h.jwt(tokenB, 'repository:bravo/app:pull');
    const { status } = await expectSameAsNonexistent('GET', (r) => `/v2/${r}/manifests/v1`, jwt);
    expect(status).toBe(401);
  });

  it('B cannot pull from A with Basic auth either', async () => {
    for (const password of [tokenB, await h.dockerPassword('bravo', { token: tokenB })]) {
      for (const path of [(r: string) => `/v2/${r}/manifests/v1`, (r: string) => `/v2/${r}/blobs/${imageA.layer}`, (r: string) => `/v2/${r}/tags/list`]) {
        const { status, error } = await expectSameAsNonexistent('GET', path, { basic: password });
        expect(status).toBe(403);
        expect(error!.code).toBe('DENIED');
      }
    }
  });

  it('and the other way round: A cannot pull from B', async () => {
    const jwt = await h.jwt(h.token, 'repository:bravo/app:pull');
    expect(claimsOf(jwt).access).toEqual([]);
    expect((await h.registry('/v2/bravo/app/manifests/v1', { auth: jwt })).status).toBe(403);
    expect((await h.registry(`/v2/bravo/app/blobs/${imageB.layer}`, { auth: { basic: h.token } })).status).toBe(403);
    const credentialA = await h.dockerPassword('alpha', { readWrite: true });
    expect((await h.registry('/v2/bravo/app/tags/list', { auth: { basic: credentialA } })).status).toBe(403);
  });
});

describe('push', () => {
  it("B cannot push into A's registry, neither into an existing repository nor a new one", async () => {
    const jwt = await h.jwt(tokenB, 'repository:alpha/app:pull,push,delete', 'repository:alpha/evil:pull,push', 'repository:zulu/app:pull,push,delete');
    const { status } = await expectSameAsNonexistent('POST', (r) => `/v2/${r}/blobs/uploads/`, jwt);
    expect(status).toBe(403);
    const bytes = randomBytes(64);
    const monolithic = await h.registry(`/v2/alpha/evil/blobs/uploads/?digest=${digestOf(bytes)}`, { method: 'POST', auth: jwt, body: bytes });
    expect(monolithic.status).toBe(403);
    const put = await h.registry('/v2/alpha/app/manifests/v1', {
      method: 'PUT',
      auth: { basic: tokenB },
      body: imageB.manifest,
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(put.status).toBe(403);
    const del = await h.registry(`/v2/alpha/app/manifests/${imageA.manifest}`, { method: 'DELETE', auth: jwt });
    expect(del.status).toBe(403);
    const delBlob = await h.registry(`/v2/alpha/app/blobs/${imageA.layer}`, { method: 'DELETE', auth: { basic: tokenB } });
    expect(delBlob.status).toBe(403);

    // A's registry is untouched: same tag, same manifest, no new repository.
    const manifest = await h.registry('/v2/alpha/app/manifests/v1', { auth: jwtA, headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toBe(imageA.manifest);
    expect((await h.registry(`/v2/alpha/app/blobs/${imageA.layer}`, { method: 'HEAD', auth: jwtA })).status).toBe(200);
    const catalog = await h.registry('/v2/_catalog', { auth: jwtA });
    expect(((await catalog.json()) as { repositories: string[] }).repositories).not.toContain('alpha/evil');
  });
});

describe('mount', () => {
  it("mounting A's blob into B's repository is 202 (a plain upload), and the blob stays unknown to B", async () => {
    const jwt = await h.jwt(tokenB, 'repository:bravo/app:pull,push', 'repository:alpha/app:pull');
    for (const auth of [jwt, { basic: tokenB }]) {
      const res = await h.registry(`/v2/bravo/app/blobs/uploads/?mount=${imageA.layer}&from=alpha/app`, { method: 'POST', auth });
      expect(res.status).toBe(202);
      expect(res.headers.get('location')).toMatch(/^\/v2\/bravo\/app\/blobs\/uploads\/[^/?]+/);
      expect(res.headers.get('docker-content-digest')).toBeNull();
      const head = await h.registry(`/v2/bravo/app/blobs/${imageA.layer}`, { method: 'HEAD', auth: jwt });
      expect(head.status).toBe(404);
      const get = await h.registry(`/v2/bravo/app/blobs/${imageA.layer}`, { auth: jwt });
      expect(get.status).toBe(404);
      expect((await ociError(get)).code).toBe('BLOB_UNKNOWN');
    }
    // The same as mounting from a registry that does not exist.
    const jwtZ = await h.jwt(tokenB, 'repository:bravo/app:pull,push', 'repository:zulu/app:pull');
    const nowhere = await h.registry(`/v2/bravo/app/blobs/uploads/?mount=${imageA.layer}&from=zulu/app`, { method: 'POST', auth: jwtZ });
    expect(nowhere.status).toBe(202);
  });

  it('(control) A can mount its own blob across its repositories: 201', async () => {
    const res = await h.registry(`/v2/alpha/other/blobs/uploads/?mount=${imageA.layer}&from=alpha/app`, { method: 'POST', auth: jwtA });
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(imageA.layer);
  });
});

describe("a digest that exists in A is unknown to B, even in B's own repository", () => {
  let jwt: string;
  beforeAll(async () => {
    jwt = await h.jwt(tokenB, 'repository:bravo/app:pull,push,delete');
  });

  it('GET and HEAD of the blob are 404 BLOB_UNKNOWN, exactly as for a digest nobody has', async () => {
    const unknown = digestOf(randomBytes(32));
    for (const digest of [imageA.layer, imageA.config]) {
      const get = await h.registry(`/v2/bravo/app/blobs/${digest}`, { auth: jwt });
      expect(get.status).toBe(404);
      const error = await ociError(get);
      expect(error.code).toBe('BLOB_UNKNOWN');
      const control = await ociError(await h.registry(`/v2/bravo/app/blobs/${unknown}`, { auth: jwt }));
      expect(error.message.replace(digest, 'D')).toBe(control.message.replace(unknown, 'D'));
      expect((await h.registry(`/v2/bravo/app/blobs/${digest}`, { method: 'HEAD', auth: jwt })).status).toBe(404);
    }
    // B's own blob is there, which shows the repository itself works.
    expect((await h.registry(`/v2/bravo/app/blobs/${imageB.layer}`, { method: 'HEAD', auth: jwt })).status).toBe(200);
  });

  it("A's manifest digest is MANIFEST_UNKNOWN in B's repository", async () => {
    const res = await h.registry(`/v2/bravo/app/manifests/${imageA.manifest}`, { auth: jwt });
    expect(res.status).toBe(404);
    expect((await ociError(res)).code).toBe('MANIFEST_UNKNOWN');
  });

  it("a manifest in B that references A's blobs is refused with MANIFEST_BLOB_UNKNOWN", async () => {
    const res = await h.registry('/v2/bravo/app/manifests/stolen', {
      method: 'PUT',
      auth: jwt,
      body: imageA.bytes,
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(res.status).toBe(400);
    expect((await ociError(res)).code).toBe('MANIFEST_BLOB_UNKNOWN');
    const tags = await h.registry('/v2/bravo/app/tags/list', { auth: jwt });
    expect(((await tags.json()) as { tags: string[] }).tags).toEqual(['v1']);
  });

  it("claiming A's digest without sending its bytes is DIGEST_INVALID, and the blob stays unknown", async () => {
    const monolithic = await h.registry(`/v2/bravo/app/blobs/uploads/?digest=${imageA.layer}`, { method: 'POST', auth: jwt });
    expect(monolithic.status).toBe(400);
    expect((await ociError(monolithic)).code).toBe('DIGEST_INVALID');

    const start = await h.registry('/v2/bravo/app/blobs/uploads/', { method: 'POST', auth: jwt });
    expect(start.status).toBe(202);
    const location = start.headers.get('location')!;
    const finish = await h.registry(`${location}${location.includes('?') ? '&' : '?'}digest=${imageA.layer}`, { method: 'PUT', auth: jwt });
    expect(finish.status).toBe(400);
    expect((await ociError(finish)).code).toBe('DIGEST_INVALID');

    expect((await h.registry(`/v2/bravo/app/blobs/${imageA.layer}`, { method: 'HEAD', auth: jwt })).status).toBe(404);
  });

  it("deleting A's digest in B's repository is BLOB_UNKNOWN and A keeps its blob", async () => {
    const res = await h.registry(`/v2/bravo/app/blobs/${imageA.layer}`, { method: 'DELETE', auth: jwt });
    expect(res.status).toBe(404);
    expect((await ociError(res)).code).toBe('BLOB_UNKNOWN');
    expect((await h.registry(`/v2/alpha/app/blobs/${imageA.layer}`, { method: 'HEAD', auth: jwtA })).status).toBe(200);
  });

  it("B can still upload the same bytes itself (content addressing does not block B), and only then sees them", async () => {
    const bytes = randomBytes(2048);
    const digest = await pushBlob(h, jwtA, 'alpha/app', bytes);
    expect((await h.registry(`/v2/bravo/app/blobs/${digest}`, { method: 'HEAD', auth: jwt })).status).toBe(404);
    await pushBlob(h, jwt, 'bravo/app', bytes);
    const get = await h.registry(`/v2/bravo/app/blobs/${digest}`, { auth: jwt });
    expect(get.status).toBe(200);
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
  });
});

describe('listing', () => {
  it("B's catalog lists only B's repositories, and A's only A's", async () => {
    const catalogB = await h.registry('/v2/_catalog', { auth: await h.jwt(tokenB, 'registry:catalog:*') });
    expect(catalogB.status).toBe(200);
    expect(((await catalogB.json()) as { repositories: string[] }).repositories).toEqual(['bravo/app']);
    const basicB = await h.registry('/v2/_catalog', { auth: { basic: tokenB } });
    expect(((await basicB.json()) as { repositories: string[] }).repositories).toEqual(['bravo/app']);
    const catalogA = await h.registry('/v2/_catalog', { auth: jwtA });
    const reposA = ((await catalogA.json()) as { repositories: string[] }).repositories;
    expect(reposA).toContain('alpha/app');
    expect(reposA.every((r) => r.startsWith('alpha/'))).toBe(true);
  });

  it("the catalog's pagination cursor does not reveal A's repositories to B", async () => {
    const res = await h.registry('/v2/_catalog?n=10&last=alpha/a', { auth: { basic: tokenB } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { repositories: string[] }).repositories).toEqual(['bravo/app']);
  });

  it("tags/list of A's repository is refused to B", async () => {
    const jwt = await h.jwt(tokenB, 'repository:alpha/app:pull');
    const res = await h.registry('/v2/alpha/app/tags/list', { auth: jwt });
    expect(res.status).toBe(403);
    const body = await res.text();
    expect(body).not.toContain('v1');
  });
});

describe('API listener', () => {
  it("B's registry list holds only B's registry", async () => {
    const res = await h.api('/v2/registries', { token: tokenB });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { registries: { name: string }[] };
    expect(body.registries.map((r) => r.name)).toEqual(['bravo']);
  });

  it("A's registry is 404 not_found for B (not 403), exactly like a registry that does not exist", async () => {
    // The full-access token, and one holding exactly the scopes these endpoints need.
    const scoped = await h.ctx.credentials.issue({ teamId: (await h.ctx.teams.byName('team-b'))!.id, kind: 'api', scopes: ['registry:read', 'registry:update', 'registry:delete'] });
    for (const token of [tokenB, scoped.secret]) {
      for (const [method, path] of [
        ['GET', (n: string) => `/v2/registries/${n}`],
        ['DELETE', (n: string) => `/v2/registries/${n}`],
        ['GET', (n: string) => `/v2/registries/${n}/docker-credentials`],
        ['GET', (n: string) => `/v2/registries/${n}/docker-credentials?read_write=true`],
      ] as const) {
        const theirs = await h.api(path('alpha'), { method, token });
        const nowhere = await h.api(path('zulu'), { method, token });
        expect(theirs.status, `${method} ${path('alpha')}`).toBe(404);
        expect(nowhere.status).toBe(404);
        const a = (await theirs.json()) as { id: string; message: string };
        const z = (await nowhere.json()) as { id: string; message: string };
        expect(a.id).toBe('not_found');
        expect(a.message.replaceAll('alpha', 'N')).toBe(z.message.replaceAll('zulu', 'N'));
      }
    }
    // Nothing happened to A's registry or its contents.
    const registry = await h.api('/v2/registries/alpha');
    expect(registry.status).toBe(200);
    expect(((await registry.json()) as { registry: { name: string } }).registry.name).toBe('alpha');
    expect((await h.registry('/v2/alpha/app/manifests/v1', { method: 'HEAD', auth: jwtA })).status).toBe(200);
  });

  it('a B token with only registry:read still gets 404 (not 403) for A’s registry', async () => {
    const reader = await h.ctx.credentials.issue({ teamId: (await h.ctx.teams.byName('team-b'))!.id, kind: 'api', scopes: ['registry:read'] });
    const res = await h.api('/v2/registries/alpha', { token: reader.secret });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { id: string }).id).toBe('not_found');
  });
});
