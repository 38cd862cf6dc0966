// OCI Distribution client used identically against every server under test.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { request, check, newAgent } from './http.mjs';
import { sha256, KiB } from './data.mjs';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const ACCEPT_MANIFESTS = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(', ');
const OCTET = 'application/octet-stream';

export class RegistryClient {
  /**
   * @param {object} target a running server (see servers.mjs): { name, registryBase, authorize(repo) }
   * @param {string} repo repository name, e.g. "bench/app"
   * @param {number} sockets keep-alive pool size
   */
  constructor(target, repo, sockets = 4) {
    this.target = target;
    this.repo = repo;
    this.agent = newAgent(sockets);
    this.auth = null;
  }

  /** Obtains credentials for pull+push on the repository (not timed by callers). */
  async login() {
    this.auth = await this.target.authorize(this.repo, this.agent);
    return this;
  }

  close() {
    this.agent.destroy();
  }

  headers(extra = {}) {
    return this.auth ? { Authorization: this.auth, ...extra } : { ...extra };
  }

  url(path) {
    return new URL(`/v2/${this.repo}${path}`, this.target.registryBase);
  }

  req(o) {
    return request({ agent: this.agent, ...o, headers: this.headers(o.headers) });
  }

  /** POST /blobs/uploads/ → 202; returns the absolute upload URL from Location. */
  async startUpload() {
    const res = await this.req({ method: 'POST', url: this.url('/blobs/uploads/'), headers: { 'Content-Length': '0' }, expect: [202] });
    return this.location(res);
  }

  location(res) {
    const loc = res.headers.location;
    check(typeof loc === 'string' && loc.length > 0, 'response has no Location header', res);
    return new URL(loc, this.target.registryBase);
  }

  withDigest(uploadUrl, digest) {
    const u = new URL(uploadUrl);
    u.searchParams.append('digest', digest);
    return u;
  }

  checkDigestHeader(res, digest) {
    const got = res.headers['docker-content-digest'];
    check(got === undefined || got === digest, `Docker-Content-Digest ${got} != ${digest}`, res);
  }

  /** Monolithic push as containerd does it: POST, then PUT ?digest= carrying the whole body. */
  async pushMonolithic(blob) {
    const digest = blob.digest();
    const upload = await this.startUpload();
    const res = await this.req({
      method: 'PUT',
      url: this.withDigest(upload, digest),
      headers: { 'Content-Type': OCTET, 'Content-Length': String(blob.size) },
      body: blob.chunks(),
      expect: [201],
    });
    this.checkDigestHeader(res, digest);
    return res;
  }

  /** Chunked push: POST, PATCH chunks with Content-Range following Location, then PUT ?digest=. */
  async pushChunked(blob, chunkSize) {
    const digest = blob.digest();
    let upload = await this.startUpload();
    for (let start = 0; start < blob.size; start += chunkSize) {
      const end = Math.min(blob.size, start + chunkSize);
      const res = await this.req({
        method: 'PATCH',
        url: upload,
        headers: { 'Content-Type': OCTET, 'Content-Length': String(end - start), 'Content-Range': `${start}-${end - 1}` },
        body: blob.chunks(start, end),
        expect: [202],
      });
      const range = res.headers.range;
      check(range === undefined || range === `0-${end - 1}` || range === `bytes=0-${end - 1}`,
        `PATCH answered Range: ${range}, expected 0-${end - 1}`, res);
      upload = this.location(res);
    }
    const res = await this.req({ method: 'PUT', url: this.withDigest(upload, digest), headers: { 'Content-Length': '0' }, expect: [201] });
    this.checkDigestHeader(res, digest);
    return res;
  }

  /** Small blob, the way docker pushes a layer: HEAD (404) → POST → PATCH → PUT ?digest=. */
  async pushSmallBlob(buf) {
    const digest = sha256(buf);
    await this.req({ method: 'HEAD', url: this.url(`/blobs/${digest}`), expect: [404], read: 'discard' });
    let upload = await this.startUpload();
    const res = await this.req({
      method: 'PATCH',
      url: upload,
      headers: { 'Content-Type': OCTET, 'Content-Length': String(buf.length), 'Content-Range': `0-${buf.length - 1}` },
      body: buf,
      expect: [202],
    });
    upload = this.location(res);
    const put = await this.req({ method: 'PUT', url: this.withDigest(upload, digest), headers: { 'Content-Length': '0' }, expect: [201] });
    this.checkDigestHeader(put, digest);
    return { digest, size: buf.length };
  }

  /** HEAD a blob; follows one redirect (Distribution on S3 redirects HEAD too). */
  async headBlob(digest) {
    const res = await this.req({ method: 'HEAD', url: this.url(`/blobs/${digest}`), expect: [200, 307, 302], read: 'discard' });
    if (res.status === 200) return res;
    return request({ agent: this.agent, method: 'HEAD', url: this.location(res), expect: [200], read: 'discard' });
  }

  /**
   * GET a blob, hashing it as it streams; verifies size and digest. Follows one redirect;
   * `redirectMs` is how long the registry took to answer with it (null when it did not).
   */
  async pullBlob(digest, size) {
    const t0 = performance.now();
    let res = await this.req({ method: 'GET', url: this.url(`/blobs/${digest}`), expect: [200, 307, 302], read: 'sha256' });
    let redirected = false;
    let redirectMs = null;
    if (res.status !== 200) {
      redirectMs = performance.now() - t0;
      const to = this.location(res);
      const sameOrigin = to.origin === new URL(this.target.registryBase).origin;
      res = await request({ agent: this.agent, method: 'GET', url: to, headers: sameOrigin ? this.headers() : {}, expect: [200], read: 'sha256' });
      redirected = true;
    }
    check(res.bytes === size, `blob GET returned ${res.bytes} bytes, expected ${size}`, res);
    check(res.sha256 === digest, `blob GET body hashes to ${res.sha256}, expected ${digest}`, res);
    return { ...res, redirected, redirectMs };
  }

  async putManifest(ref, bytes, mediaType = OCI_MANIFEST) {
    const res = await this.req({
      method: 'PUT',
      url: this.url(`/manifests/${ref}`),
      headers: { 'Content-Type': mediaType, 'Content-Length': String(bytes.length) },
      body: bytes,
      expect: [201],
    });
    this.checkDigestHeader(res, sha256(bytes));
    return res;
  }

  /** GET or HEAD a manifest by tag or digest; checks status, digest and (for GET) the bytes. */
  async fetchManifest(method, ref, digest, size) {
    const res = await this.req({
      method,
      url: this.url(`/manifests/${ref}`),
      headers: { Accept: ACCEPT_MANIFESTS },
      expect: [200],
      read: method === 'GET' ? 'sha256' : 'discard',
    });
    this.checkDigestHeader(res, digest);
    if (method === 'GET') {
      check(res.sha256 === digest && res.bytes === size, `manifest GET body hashes to ${res.sha256} (${res.bytes} bytes), expected ${digest}`, res);
    } else {
      const len = res.headers['content-length'];
      check(len === undefined || Number(len) === size, `manifest HEAD Content-Length ${len}, expected ${size}`, res);
    }
    return res;
  }

  /** Lists all tags, following Link rel="next" headers. Returns { tags, requests, pageSizes }. */
  async listTags(n) {
    let url = this.url('/tags/list');
    if (n) url.searchParams.set('n', String(n));
    const tags = [];
    const pageSizes = [];
    for (let requests = 1; ; requests++) {
      const res = await this.req({ method: 'GET', url, expect: [200] });
      let doc;
      try {
        doc = JSON.parse(res.body.toString('utf8'));
      } catch {
        check(false, 'tags/list body is not JSON', res);
      }
      check(doc && Array.isArray(doc.tags ?? []), 'tags/list body has no tags array', res);
      const page = doc.tags ?? [];
      pageSizes.push(page.length);
      tags.push(...page);
      const next = parseNextLink(res.headers.link);
      if (!next) return { tags, requests, pageSizes };
      check(requests < 100_000, 'tags/list pagination does not end', res);
      url = new URL(next, this.target.registryBase);
    }
  }
}

export function parseNextLink(link) {
  if (!link) return null;
  for (const part of String(link).split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /rel\s*=\s*"?next"?/i.test(m[2])) return m[1];
  }
  return null;
}

/** A unique small image: ~1 KiB config + ~16 KiB layer; returns blobs and manifest bytes. */
export function makeSmallImage(id) {
  const layer = randomBytes(16 * KiB);
  const layerDigest = sha256(layer);
  const configDoc = {
    architecture: 'amd64',
    os: 'linux',
    created: new Date().toISOString(),
    config: { Env: [`BENCH_IMAGE=${id}`], Cmd: ['/bin/true'], Labels: { pad: '' } },
    rootfs: { type: 'layers', diff_ids: [layerDigest] },
  };
  const base = Buffer.byteLength(JSON.stringify(configDoc));
  configDoc.config.Labels.pad = randomBytes(Math.max(1, Math.ceil((KiB - base) / 2))).toString('hex');
  const config = Buffer.from(JSON.stringify(configDoc));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
  }));
  return { config, layer, manifest, digest: sha256(manifest) };
}

/** Full small-image push as a client does it: both blobs, then the manifest by tag. */
export async function pushSmallImage(client, tag, id = tag) {
  const img = makeSmallImage(id);
  await client.pushSmallBlob(img.config);
  await client.pushSmallBlob(img.layer);
  await client.putManifest(tag, img.manifest);
  return img;
}
