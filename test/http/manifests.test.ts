import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, pushBlob, pushImage, startHarness, type Harness } from '../harness.js';

const NAME = 'manifests/app';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
let h: Harness;
let jwt: string;

beforeAll(async () => {
  h = await startHarness();
  await h.createRegistry('manifests');
  jwt = await h.jwt(h.token, `repository:${NAME}:pull,push,delete`, 'registry:catalog:*');
});
afterAll(() => h.close());

async function put(reference: string, body: unknown, contentType = OCI_MANIFEST, name = NAME): Promise<Response> {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  return h.registry(`/v2/${name}/manifests/${reference}`, { method: 'PUT', auth: jwt, body: bytes, headers: { 'content-type': contentType } });
}

function rawGet(url: string, token: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  const path = url.slice(url.indexOf('/', 'http://'.length));
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { errors: { code: string }[] }).errors[0]!.code;
}

describe('manifest push and pull', () => {
  it('stores by tag and serves by tag and digest with the right headers', async () => {
    const image = await pushImage(h, jwt, NAME, 'v1');
    for (const ref of ['v1', image.manifest]) {
      const res = await h.registry(`/v2/${NAME}/manifests/${ref}`, { auth: jwt, headers: { accept: OCI_MANIFEST } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(OCI_MANIFEST);
      expect(res.headers.get('docker-content-digest')).toBe(image.manifest);
      expect(Buffer.from(await res.arrayBuffer()).equals(image.bytes)).toBe(true);
      const head = await h.registry(`/v2/${NAME}/manifests/${ref}`, { method: 'HEAD', auth: jwt });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(image.bytes.length));
    }
  });

  it('answers PUT with 201, Location and Docker-Content-Digest; by digest too', async () => {
    const image = await pushImage(h, jwt, NAME, 'v2');
    const res = await put(image.manifest, image.bytes);
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v2/${NAME}/manifests/${image.manifest}`);
    expect(res.headers.get('docker-content-digest')).toBe(image.manifest);
  });

  it('keeps bytes exactly, including unknown fields', async () => {
    const config = await pushBlob(h, jwt, NAME, Buffer.from('{}'));
    const text = `{"schemaVersion":2,  "mediaType":"${OCI_MANIFEST}","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"${config}","size":2,"x-extra":{"a":1}},"layers":[],"annotations":{"k":"v"},"custom":true}`;
    const res = await put('custom', Buffer.from(text));
    expect(res.status).toBe(201);
    const get = await h.registry(`/v2/${NAME}/manifests/custom`, { auth: jwt });
    expect(await get.text()).toBe(text);
  });

  it('moves a tag to a new manifest', async () => {
    const a = await pushImage(h, jwt, NAME, 'moving');
    const b = await pushImage(h, jwt, NAME, 'moving');
    expect(a.manifest).not.toBe(b.manifest);
    const res = await h.registry(`/v2/${NAME}/manifests/moving`, { method: 'HEAD', auth: jwt });
    expect(res.headers.get('docker-content-digest')).toBe(b.manifest);
  });

  it('accepts Docker schema2 manifests and manifest lists', async () => {
    const configBytes = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const config = await pushBlob(h, jwt, NAME, configBytes);
    const layerBytes = randomBytes(100);
    const layer = await pushBlob(h, jwt, NAME, layerBytes);
    const manifest = {
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: config, size: configBytes.length },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: layer, size: layerBytes.length }],
    };
    const res = await put('docker', manifest, DOCKER_MANIFEST);
    expect(res.status).toBe(201);
    const digest = res.headers.get('docker-content-digest')!;
    const list = {
      schemaVersion: 2,
      mediaType: DOCKER_LIST,
      manifests: [{ mediaType: DOCKER_MANIFEST, digest, size: JSON.stringify(manifest).length, platform: { architecture: 'amd64', os: 'linux' } }],
    };
    const listRes = await put('docker-list', list, DOCKER_LIST);
    expect(listRes.status).toBe(201);
    const get = await h.registry(`/v2/${NAME}/manifests/docker-list`, { auth: jwt, headers: { accept: `${DOCKER_LIST}, ${DOCKER_MANIFEST}` } });
    expect(get.headers.get('content-type')).toBe(DOCKER_LIST);
    // A client that cannot take a list gets the linux/amd64 image it names.
    const single = await h.registry(`/v2/${NAME}/manifests/docker-list`, { auth: jwt, headers: { accept: DOCKER_MANIFEST } });
    expect(single.status).toBe(200);
    expect(single.headers.get('docker-content-digest')).toBe(digest);
  });

  it('pushes an OCI index whose children exist, and refuses one whose children do not', async () => {
    const a = await pushImage(h, jwt, NAME, 'arch-a');
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_MANIFEST, digest: a.manifest, size: a.bytes.length, platform: { architecture: 'amd64', os: 'linux' } }],
    };
    expect((await put('multi', index, OCI_INDEX)).status).toBe(201);
    const missing = { ...index, manifests: [{ mediaType: OCI_MANIFEST, digest: digestOf(randomBytes(9)), size: 10 }] };
    const res = await put('multi-bad', missing, OCI_INDEX);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('MANIFEST_BLOB_UNKNOWN');
  });

  it('refuses OCI manifests to clients that accept only Docker types', async () => {
    await pushImage(h, jwt, NAME, 'oci-only');
    const res = await h.registry(`/v2/${NAME}/manifests/oci-only`, { auth: jwt, headers: { accept: DOCKER_MANIFEST } });
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe('MANIFEST_UNKNOWN');
  });

  it('accepts a subject that does not exist yet and answers with OCI-Subject', async () => {
    const subject = digestOf(randomBytes(20));
    const config = await pushBlob(h, jwt, NAME, Buffer.from('{}'));
    const res = await put('with-subject', {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/vnd.example.sig',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: config, size: 2 },
      layers: [],
      subject: { mediaType: OCI_MANIFEST, digest: subject, size: 100 },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('oci-subject')).toBe(subject);
  });

  it('skips existence checks for non-distributable layers', async () => {
    const config = await pushBlob(h, jwt, NAME, Buffer.from('{"x":1}'));
    const res = await put('foreign', {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 7 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: digestOf(randomBytes(4)), size: 4, urls: ['https://example.com/l'] }],
    });
    expect(res.status).toBe(201);
  });
});

describe('manifest validation', () => {
  it.each([
    ['not JSON', Buffer.from('{nope'), OCI_MANIFEST],
    ['a JSON array', Buffer.from('[]'), OCI_MANIFEST],
    ['schemaVersion 1', Buffer.from('{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}'), 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
    ['a missing config', Buffer.from(`{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","layers":[]}`), OCI_MANIFEST],
    ['a bad descriptor digest', Buffer.from(`{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:xyz","size":1},"layers":[]}`), OCI_MANIFEST],
    ['a negative size', Buffer.from(`{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:${'a'.repeat(64)}","size":-1},"layers":[]}`), OCI_MANIFEST],
    ['an unknown media type', Buffer.from('{"schemaVersion":2}'), 'application/vnd.example.unknown+json'],
    ['mediaType disagreeing with Content-Type', Buffer.from(`{"schemaVersion":2,"mediaType":"${OCI_INDEX}","manifests":[]}`), OCI_MANIFEST],
    ['an empty body', Buffer.alloc(0), OCI_MANIFEST],
  ])('refuses %s with MANIFEST_INVALID', async (_label, body, contentType) => {
    const res = await put('invalid', body, contentType);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('MANIFEST_INVALID');
    expect((await h.registry(`/v2/${NAME}/manifests/invalid`, { method: 'HEAD', auth: jwt })).status).toBe(404);
  });

  it('refuses references to blobs the repository does not have', async () => {
    const res = await put('unknown-blob', {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(randomBytes(5)), size: 5 },
      layers: [],
    });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('MANIFEST_BLOB_UNKNOWN');
  });

  it('refuses a digest reference that does not match the body', async () => {
    const image = await pushImage(h, jwt, NAME, 'digest-check');
    const res = await put(digestOf(randomBytes(3)), image.bytes);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('DIGEST_INVALID');
  });

  it('refuses invalid tags', async () => {
    const image = await pushImage(h, jwt, NAME, 'tag-check');
    for (const tag of ['.hidden', '-dash', 'a'.repeat(129), 'bad%20tag']) {
      const res = await put(tag, image.bytes);
      expect(res.status, tag).toBe(400);
    }
  });

  it('refuses manifests over 4 MiB with 413 and keeps the old tag target', async () => {
    const image = await pushImage(h, jwt, NAME, 'big');
    const huge = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    const res = await put('big', huge);
    expect(res.status).toBe(413);
    const head = await h.registry(`/v2/${NAME}/manifests/big`, { method: 'HEAD', auth: jwt });
    expect(head.headers.get('docker-content-digest')).toBe(image.manifest);
  });
});

describe('deleting manifests and tags', () => {
  it('deletes a tag, leaving the manifest', async () => {
    const image = await pushImage(h, jwt, NAME, 'del-tag');
    const res = await h.registry(`/v2/${NAME}/manifests/del-tag`, { method: 'DELETE', auth: jwt });
    expect(res.status).toBe(202);
    expect((await h.registry(`/v2/${NAME}/manifests/del-tag`, { method: 'HEAD', auth: jwt })).status).toBe(404);
    expect((await h.registry(`/v2/${NAME}/manifests/${image.manifest}`, { method: 'HEAD', auth: jwt })).status).toBe(200);
  });

  it('deletes a manifest by digest with its tags', async () => {
    const image = await pushImage(h, jwt, NAME, 'del-manifest');
    const res = await h.registry(`/v2/${NAME}/manifests/${image.manifest}`, { method: 'DELETE', auth: jwt });
    expect(res.status).toBe(202);
    expect((await h.registry(`/v2/${NAME}/manifests/${image.manifest}`, { method: 'GET', auth: jwt })).status).toBe(404);
    expect((await h.registry(`/v2/${NAME}/manifests/del-manifest`, { method: 'HEAD', auth: jwt })).status).toBe(404);
    const again = await h.registry(`/v2/${NAME}/manifests/${image.manifest}`, { method: 'DELETE', auth: jwt });
    expect(again.status).toBe(404);
    expect(await errorCode(again)).toBe('MANIFEST_UNKNOWN');
  });
});

describe('tag listing', () => {
  const REPO = 'manifests/tags';
  let tagJwt: string;
  beforeAll(async () => {
    tagJwt = await h.jwt(h.token, `repository:${REPO}:pull,push`);
    const image = await pushImage(h, tagJwt, REPO, 'zeta');
    for (const tag of ['alpha', 'Beta', 'beta', '1.0', '1.10', '1.9', 'a_b']) {
      const res = await h.registry(`/v2/${REPO}/manifests/${tag}`, { method: 'PUT', auth: tagJwt, body: image.bytes, headers: { 'content-type': OCI_MANIFEST } });
      expect(res.status).toBe(201);
    }
  });

  it('lists tags in byte order', async () => {
    const res = await h.registry(`/v2/${REPO}/tags/list`, { auth: tagJwt });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { name: string; tags: string[] };
    expect(body.name).toBe(REPO);
    expect(body.tags).toEqual(['1.0', '1.10', '1.9', 'Beta', 'a_b', 'alpha', 'beta', 'zeta']);
  });

  it('pages with n and last, with a Link to the next page', async () => {
    const seen: string[] = [];
    let path: string | undefined = `/v2/${REPO}/tags/list?n=3`;
    while (path) {
      const res = await h.registry(path, { auth: tagJwt });
      const body = (await res.json()) as { tags: string[] };
      expect(body.tags.length).toBeLessThanOrEqual(3);
      seen.push(...body.tags);
      const link = res.headers.get('link');
      path = link ? /<([^>]+)>; rel="next"/.exec(link)![1] : undefined;
    }
    expect(seen).toEqual(['1.0', '1.10', '1.9', 'Beta', 'a_b', 'alpha', 'beta', 'zeta']);
    const after = await h.registry(`/v2/${REPO}/tags/list?last=alpha`, { auth: tagJwt });
    expect(((await after.json()) as { tags: string[] }).tags).toEqual(['beta', 'zeta']);
    const none = await h.registry(`/v2/${REPO}/tags/list?n=0`, { auth: tagJwt });
    expect(((await none.json()) as { tags: string[] }).tags).toEqual([]);
    const bad = await h.registry(`/v2/${REPO}/tags/list?n=-1`, { auth: tagJwt });
    expect(bad.status).toBe(400);
  });

  it('answers NAME_UNKNOWN for a repository that does not exist', async () => {
    const other = await h.jwt(h.token, 'repository:manifests/nothing:pull');
    const res = await h.registry('/v2/manifests/nothing/tags/list', { auth: other });
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe('NAME_UNKNOWN');
  });
});

describe('referrers', () => {
  it('lists manifests whose subject is the digest, filtered by artifactType', async () => {
    const REPO = 'manifests/refs';
    const refJwt = await h.jwt(h.token, `repository:${REPO}:pull,push`);
    const subject = await pushImage(h, refJwt, REPO, 'subject');
    const empty = await pushBlob(h, refJwt, REPO, Buffer.from('{}'));
    const artifact = (artifactType: string, n: number) => ({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: empty, size: 2 },
      layers: [],
      subject: { mediaType: OCI_MANIFEST, digest: subject.manifest, size: subject.bytes.length },
      annotations: { n: String(n) },
    });
    const sig = Buffer.from(JSON.stringify(artifact('application/vnd.example.sig', 1)));
    const sbom = Buffer.from(JSON.stringify(artifact('application/vnd.example.sbom', 2)));
    for (const bytes of [sig, sbom]) {
      const res = await h.registry(`/v2/${REPO}/manifests/${digestOf(bytes)}`, { method: 'PUT', auth: refJwt, body: bytes, headers: { 'content-type': OCI_MANIFEST } });
      expect(res.status).toBe(201);
      expect(res.headers.get('oci-subject')).toBe(subject.manifest);
    }
    const all = await h.registry(`/v2/${REPO}/referrers/${subject.manifest}`, { auth: refJwt });
    expect(all.status).toBe(200);
    expect(all.headers.get('content-type')).toBe(OCI_INDEX);
    const index = (await all.json()) as { schemaVersion: number; mediaType: string; manifests: { digest: string; artifactType: string; annotations: Record<string, string>; size: number }[] };
    expect(index.schemaVersion).toBe(2);
    expect(index.mediaType).toBe(OCI_INDEX);
    expect(index.manifests.map((m) => m.digest).sort()).toEqual([digestOf(sig), digestOf(sbom)].sort());
    const sigEntry = index.manifests.find((m) => m.digest === digestOf(sig))!;
    expect(sigEntry).toMatchObject({ artifactType: 'application/vnd.example.sig', annotations: { n: '1' }, size: sig.length });

    const filtered = await h.registry(`/v2/${REPO}/referrers/${subject.manifest}?artifactType=application/vnd.example.sbom`, { auth: refJwt });
    expect(filtered.headers.get('oci-filters-applied')).toBe('artifactType');
    expect(((await filtered.json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest)).toEqual([digestOf(sbom)]);

    const none = await h.registry(`/v2/${REPO}/referrers/${digestOf(randomBytes(4))}`, { auth: refJwt });
    expect(none.status).toBe(200);
    expect(((await none.json()) as { manifests: unknown[] }).manifests).toEqual([]);
    const bad = await h.registry(`/v2/${REPO}/referrers/sha256:nothex`, { auth: refJwt });
    expect(bad.status).toBe(400);
  });
});

describe('names', () => {
  it.each([
    ['uppercase', '/v2/manifests/App/tags/list', 400],
    ['a double slash', '/v2/manifests//app/tags/list', 400],
    ['dot-dot', '/v2/manifests/../app/tags/list', 400],
    ['encoded slash', '/v2/manifests%2Fapp/tags/list', 400],
    ['no repository part', '/v2/manifests/tags/list', 400],
  ])('refuses a name with %s', async (_label, path, status) => {
    // fetch() would normalise `..` away; send the path exactly as written.
    const res = await rawGet(`${h.registryUrl}${path}`, jwt);
    expect(res.status).toBe(status);
    expect((JSON.parse(res.body) as { errors: { code: string }[] }).errors[0]!.code).toBe('NAME_INVALID');
  });

  it('refuses names over 255 characters', async () => {
    const long = `manifests/${'a'.repeat(250)}`;
    const res = await fetch(`${h.registryUrl}/v2/${long}/tags/list`, { headers: { authorization: `Bearer ${jwt}` } });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('NAME_INVALID');
  });
});

describe('catalog', () => {
  it('lists repositories with manifests, paged', async () => {
    const res = await h.registry('/v2/_catalog', { auth: jwt });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { repositories: string[] };
    expect(body.repositories).toContain(NAME);
    expect(body.repositories).toEqual([...body.repositories].sort());
    const page = await h.registry('/v2/_catalog?n=1', { auth: jwt });
    expect(((await page.json()) as { repositories: string[] }).repositories).toHaveLength(1);
    expect(page.headers.get('link')).toMatch(/^<\/v2\/_catalog\?n=1&last=[^>]+>; rel="next"$/);
  });
});
