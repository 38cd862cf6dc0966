/**
 * What test/http/oci-conformance.test.ts needs to replay the OCI distribution-spec conformance
 * suite (opencontainers/distribution-spec `conformance/`, OCI_VERSION=1.1 defaults) against a
 * real Berth: the suite's kinds of test content, and an HTTP client that authenticates the way
 * the suite does (follow the 401 challenge, fetch a token for the scope it names with Basic
 * credentials, cache it per host, repository and pull/push/delete).
 * Written from what the suite sends and checks; none of its code.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { Credentials } from './server.js';

export type Algorithm = 'sha256' | 'sha512';

export const MT = {
  exampleConf1: 'application/vnd.example.oci.conformance.v1',
  exampleConf2: 'application/vnd.example.oci.conformance.v2',
  octetStream: 'application/octet-stream',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociImage: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGz: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerNd: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNdGz: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociEmptyJson: 'application/vnd.oci.empty.v1+json',
} as const;

export function digestOf(bytes: Uint8Array, algorithm: Algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** 26 characters of A–Z and 2–7, like Go's rand.Text(). */
export function randomText(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return [...randomBytes(26)].map((b) => alphabet[b % 32]).join('');
}

export interface Platform {
  architecture: string;
  os: string;
}

export interface Descriptor {
  mediaType: string;
  artifactType?: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: string;
  platform?: Platform;
}

export interface GenOptions {
  algorithm?: Algorithm;
  annotations?: Record<string, string>;
  /** Adds one random `org.example.*` annotation, so otherwise equal manifests differ. */
  annotationUniq?: boolean;
  artifactType?: string;
  blobSize?: number;
  uncompressed?: boolean;
  configBytes?: Buffer;
  configMediaType?: string;
  descriptorMediaType?: string;
  /** Adds one random top-level field to manifests, indexes and configs. */
  extraField?: boolean;
  layerBytes?: Buffer;
  layerCount?: number;
  layerMediaType?: string;
  platform?: Platform;
  platforms?: (Platform | undefined)[];
  /** Puts each descriptor's bytes in its `data` field. */
  setData?: boolean;
  subject?: Descriptor;
  tag?: string;
}

const AMD64: Platform = { architecture: 'amd64', os: 'linux' };
const ARM64: Platform = { architecture: 'arm64', os: 'linux' };
export const TWO_PLATFORMS: Platform[] = [AMD64, ARM64];

/** A one-file tar archive (ustar), as the suite's layers are. */
function tarOf(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
  field(0, 100, name);
  field(100, 8, '0000644\0');
  field(108, 8, '0000000\0');
  field(116, 8, '0000000\0');
  field(124, 12, `${content.length.toString(8).padStart(11, '0')}\0`);
  field(136, 12, '00000000000\0');
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

/** The annotations asked for, plus one unique to this document when `annotationUniq` is set. */
function annotationsFor(opts: GenOptions): Record<string, string> | undefined {
  if (!opts.annotationUniq) return opts.annotations;
  return { ...opts.annotations, [`org.example.${randomText()}`]: randomText() };
}

function withExtraField<T extends object>(value: T, extra: boolean | undefined): T | (T & Record<string, string>) {
  return extra ? { ...value, [`org.${randomText()}`]: randomText() } : value;
}

/**
 * One of the suite's data sets: blobs, manifests in push order (children before parents),
 * tags, and the referrers each subject should list.
 */
export class TestData {
  readonly tags = new Map<string, string>();
  readonly tagPushed = new Set<string>();
  readonly desc = new Map<string, Descriptor>();
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, Buffer>();
  readonly manOrder: string[] = [];
  readonly referrers = new Map<string, Descriptor[]>();
  /** Manifests whose bytes were altered after digesting: the push must be refused. */
  readonly badDigest = new Set<string>();
  /** Tags are pushed as `?tag=` parameters of the push by digest (OCI_VERSION=dev). */
  tagParam = false;

  constructor(readonly name: string) {}

  addBlob(bytes: Buffer, opts: GenOptions = {}): string {
    const digest = digestOf(bytes, opts.algorithm);
    this.blobs.set(digest, bytes);
    this.desc.set(digest, {
      mediaType: opts.descriptorMediaType ?? MT.octetStream,
      digest,
      size: bytes.length,
      ...(opts.setData ? { data: bytes.toString('base64') } : {}),
    });
    return digest;
  }

  genBlob(opts: GenOptions = {}): string {
    return this.addBlob(randomBytes(opts.blobSize ?? 2048), opts);
  }

  /** A layer; returns its (compressed) digest and the digest of the uncompressed tar. */
  genLayer(fileNumber: number, opts: GenOptions = {}): { digest: string; diffId: string } {
    const algorithm = opts.algorithm ?? 'sha256';
    const lucky = randomBytes(6).readUIntBE(0, 6);
    const file = Buffer.from(`Conformance test file contents for file number ${fileNumber}.\nTodays lucky number is ${lucky}\n`);
    const tar = tarOf(`./conformance-${fileNumber}.txt`, file);
    const body = opts.uncompressed ? tar : gzipSync(tar);
    const digest = digestOf(body, algorithm);
    this.blobs.set(digest, body);
    this.desc.set(digest, {
      mediaType: opts.uncompressed ? MT.ociLayer : MT.ociLayerGz,
      digest,
      size: body.length,
      ...(opts.setData ? { data: body.toString('base64') } : {}),
    });
    return { digest, diffId: digestOf(tar, algorithm) };
  }

  genConfig(platform: Platform, diffIds: string[], opts: GenOptions = {}): string {
    const config = withExtraField(
      { author: 'OCI Conformance Test', architecture: platform.architecture, os: platform.os, config: {}, rootfs: { type: 'layers', diff_ids: diffIds } },
      opts.extraField,
    );
    const body = Buffer.from(JSON.stringify(config));
    const digest = digestOf(body, opts.algorithm);
    this.blobs.set(digest, body);
    this.desc.set(digest, {
      mediaType: opts.configMediaType ?? MT.ociConfig,
      digest,
      size: body.length,
      ...(opts.setData ? { data: body.toString('base64') } : {}),
    });
    return digest;
  }

  genManifest(config: Descriptor, layers: Descriptor[], opts: GenOptions = {}): string {
    const annotations = annotationsFor(opts);
    const manifest = {
      schemaVersion: 2,
      mediaType: MT.ociImage,
      ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
      config,
      layers,
      ...(opts.subject ? { subject: opts.subject } : {}),
      ...(annotations ? { annotations } : {}),
    };
    return this.addDocument(manifest, MT.ociImage, opts.artifactType ?? config.mediaType, annotations, opts);
  }

  /** An image: layers (or artifact blobs), a config, and the manifest. */
  genManifestFull(opts: GenOptions = {}): string {
    const layerCount = opts.layerCount ?? 2;
    const digests: string[] = [];
    const diffIds: string[] = [];
    for (let l = 0; l < layerCount; l++) {
      if (!opts.layerMediaType || opts.layerMediaType.startsWith('application/vnd.oci.image.layer.v1.')) {
        const layer = this.genLayer(l, opts);
        digests.push(layer.digest);
        diffIds.push(layer.diffId);
      } else {
        const blobOpts = { ...opts, descriptorMediaType: opts.layerMediaType };
        const digest = opts.layerBytes ? this.addBlob(opts.layerBytes, blobOpts) : this.genBlob(blobOpts);
        digests.push(digest);
        diffIds.push(digest);
      }
    }
    let config: string;
    if (!opts.configMediaType || opts.configMediaType === MT.ociConfig) {
      config = this.genConfig(opts.platform ?? AMD64, diffIds, opts);
    } else {
      config = this.addBlob(opts.configBytes ?? Buffer.alloc(0), { ...opts, descriptorMediaType: opts.configMediaType });
    }
    return this.genManifest(this.desc.get(config)!, digests.map((d) => this.desc.get(d)!), opts);
  }

  genIndex(platforms: (Platform | undefined)[], manifests: string[], opts: GenOptions = {}): string {
    const annotations = annotationsFor(opts);
    const index = {
      schemaVersion: 2,
      mediaType: MT.ociIndex,
      ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
      manifests: manifests.map((m, i) => ({ ...this.desc.get(m)!, ...(platforms[i] ? { platform: platforms[i] } : {}) })),
      ...(opts.subject ? { subject: opts.subject } : {}),
      ...(annotations ? { annotations } : {}),
    };
    return this.addDocument(index, MT.ociIndex, opts.artifactType, annotations, opts);
  }

  /**
   * Stores a manifest or index (with the extra field when asked) and, when it has a subject,
   * records it as a referrer the subject should list, with `artifactType` if there is one.
   */
  private addDocument(document: object, mediaType: string, artifactType: string | undefined, annotations: Record<string, string> | undefined, opts: GenOptions): string {
    const body = Buffer.from(JSON.stringify(withExtraField(document, opts.extraField)));
    const digest = this.addManifest(body, mediaType, opts);
    if (opts.subject) {
      this.addReferrer(opts.subject.digest, {
        mediaType,
        ...(artifactType ? { artifactType } : {}),
        digest,
        size: body.length,
        ...(annotations ? { annotations } : {}),
      });
    }
    return digest;
  }

  /** An index of one image per platform (two by default), with everything they need. */
  genIndexFull(opts: GenOptions = {}): string {
    const platforms = opts.platforms ?? TWO_PLATFORMS;
    const images = platforms.map((platform) => this.genManifestFull({ ...opts, platform, tag: undefined, subject: opts.subject }));
    return this.genIndex(platforms, images, opts);
  }

  private addManifest(body: Buffer, mediaType: string, opts: GenOptions): string {
    const digest = digestOf(body, opts.algorithm);
    this.manifests.set(digest, body);
    this.manOrder.push(digest);
    this.desc.set(digest, { mediaType, digest, size: body.length, ...(opts.setData ? { data: body.toString('base64') } : {}) });
    if (opts.tag) this.tags.set(opts.tag, digest);
    return digest;
  }

  private addReferrer(subject: string, referrer: Descriptor): void {
    this.referrers.set(subject, [...(this.referrers.get(subject) ?? []), referrer]);
  }
}

/** The `mediaType` and `subject` a manifest declares (image manifest when absent, as the suite assumes). */
export function detectManifest(body: Buffer): { mediaType: string; subject?: Descriptor } {
  const parsed = JSON.parse(body.toString('utf8')) as { mediaType?: string; subject?: Descriptor };
  return { mediaType: parsed.mediaType ?? MT.ociImage, ...(parsed.subject ? { subject: parsed.subject } : {}) };
}

export interface Reply {
  method: string;
  url: string;
  status: number;
  headers: Headers;
  body: Buffer;
}

export interface CallOptions {
  headers?: Record<string, string | string[]>;
  body?: Buffer | AsyncIterable<Uint8Array>;
  /**
   * Send the Buffer body with chunked transfer encoding, no Content-Length: what Go's client
   * does with a body whose length it was not told (the suite's manifest PUTs).
   */
  chunked?: boolean;
}

/** A failed expectation, with the exchange that broke it. */
export class ExchangeError extends Error {}

export function describeReply(reply: Reply): string {
  const headers = [...reply.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n    ');
  const text = reply.body.length > 0 && reply.body.length < 4096 && !reply.body.includes(0) ? `\n    ${reply.body.toString('utf8')}` : ` (${reply.body.length} bytes)`;
  return `${reply.method} ${reply.url} → ${reply.status}\n    ${headers}${text}`;
}

/** Throws unless the status is one of `statuses`. */
export function expectStatus(reply: Reply, ...statuses: number[]): void {
  if (!statuses.includes(reply.status)) throw new ExchangeError(`expected status ${statuses.join(' or ')}\n  ${describeReply(reply)}`);
}

/** Throws unless the header has exactly this value (or, with undefined, is present at all). */
export function expectHeader(reply: Reply, name: string, value?: string): void {
  const actual = reply.headers.get(name);
  if (actual === null) throw new ExchangeError(`missing header ${name}\n  ${describeReply(reply)}`);
  if (value !== undefined && actual !== value) throw new ExchangeError(`header ${name} is ${JSON.stringify(actual)}, expected ${JSON.stringify(value)}\n  ${describeReply(reply)}`);
}

export function expectBody(reply: Reply, expected: Buffer): void {
  if (!reply.body.equals(expected)) {
    throw new ExchangeError(`body differs: ${reply.body.length} bytes received, ${expected.length} expected\n  ${describeReply(reply)}`);
  }
}

/** A present Docker-Content-Digest must name `digest` (the suite's VerifyDigest; `require` for OCI_VERSION=dev). */
export function expectDigestHeader(reply: Reply, digest: string, require = true): void {
  const actual = reply.headers.get('docker-content-digest');
  if (actual === null && require) throw new ExchangeError(`missing Docker-Content-Digest\n  ${describeReply(reply)}`);
  if (actual !== null && actual !== digest) throw new ExchangeError(`Docker-Content-Digest is ${actual}, expected ${digest}\n  ${describeReply(reply)}`);
}

type MethodGroup = 'pull' | 'push' | string;

function methodGroup(method: string): MethodGroup {
  if (method === 'GET' || method === 'HEAD') return 'pull';
  if (method === 'POST' || method === 'PATCH' || method === 'PUT') return 'push';
  return method;
}

function repositoryOf(path: string): string {
  const m = /^\/v2\/(.+?)\/(?:blobs|manifests|tags|referrers)\//.exec(path);
  return m ? m[1]! : '';
}

/** `Bearer realm="…",service="…",scope="…"` → its parameters (quoted values, as the suite parses). */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const scheme = header.slice(0, header.indexOf(' ')).toLowerCase();
  const params: Record<string, string> = {};
  for (const m of header.matchAll(/([A-Za-z]+)="((?:[^"\\]|\\.)*)"/g)) params[m[1]!.toLowerCase()] = m[2]!.replace(/\\(.)/g, '$1');
  return { scheme, params };
}

/**
 * HTTP as the conformance suite does it: no credentials on the first try, then on a 401 the
 * challenge's realm is asked for a token for the challenge's scope (Basic credentials,
 * `Accept: application/json`), and the request is sent again once. Tokens are cached per
 * host, repository and method group, as the suite's `cacheAuth: true` does, so a cached
 * token too narrow for a request must be challenged again.
 */
export class SuiteClient {
  private readonly cache = new Map<string, string>();
  readonly tokenRequests: string[] = [];

  constructor(
    private readonly base: string,
    private readonly credentials: Credentials,
  ) {}

  async call(method: string, target: string | URL, options: CallOptions = {}): Promise<Reply> {
    const url = new URL(target, this.base);
    const key = `${url.host}:${repositoryOf(url.pathname)}:${methodGroup(method)}`;
    let reply = await this.send(method, url, options, this.cache.get(key));
    if (reply.status === 401) {
      const header = reply.headers.get('www-authenticate');
      if (!header) throw new ExchangeError(`401 without WWW-Authenticate\n  ${describeReply(reply)}`);
      const auth = await this.authFor(url, header);
      this.cache.set(key, auth);
      if (options.body !== undefined && !Buffer.isBuffer(options.body)) throw new ExchangeError(`a streamed body cannot be sent again after 401\n  ${describeReply(reply)}`);
      reply = await this.send(method, url, options, auth);
    }
    return reply;
  }

  private async authFor(url: URL, header: string): Promise<string> {
    const { scheme, params } = parseChallenge(header);
    const basic = `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
    if (scheme === 'basic') return basic;
    if (scheme !== 'bearer' || !params.realm) throw new ExchangeError(`cannot follow challenge ${header}`);
    const realm = new URL(params.realm, url);
    const query = new URLSearchParams({ service: params.service ?? '' });
    if (params.scope) query.set('scope', params.scope);
    realm.search = query.toString();
    this.tokenRequests.push(params.scope ?? '');
    const response = await fetch(realm, { headers: { accept: 'application/json', authorization: basic } });
    const text = await response.text();
    if (response.status !== 200) throw new ExchangeError(`GET ${realm} → ${response.status}: ${text}`);
    const body = JSON.parse(text) as { token?: string; access_token?: string };
    return `Bearer ${body.access_token || body.token}`;
  }

  private async send(method: string, url: URL, options: CallOptions, auth: string | undefined): Promise<Reply> {
    const headers = new Headers();
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    if (auth) headers.set('authorization', auth);
    if ((method === 'GET' || method === 'HEAD') && Buffer.isBuffer(options.body)) return this.sendWithBody(method, url, headers, options.body);
    const payload = options.chunked && Buffer.isBuffer(options.body) ? streamed(options.body) : options.body;
    const isStream = payload !== undefined && !Buffer.isBuffer(payload);
    const response = await fetch(url, {
      method,
      headers,
      body: payload as RequestInit['body'],
      ...(isStream ? { duplex: 'half' } : {}),
    } as RequestInit);
    const body = Buffer.from(await response.arrayBuffer());
    return { method, url: url.pathname + url.search, status: response.status, headers: response.headers, body };
  }

  /** A GET with a body, which Go's client sends and fetch() refuses to. */
  private sendWithBody(method: string, url: URL, headers: Headers, body: Buffer): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(url, { method, headers: Object.fromEntries(headers.entries()) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const replyHeaders = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) replyHeaders.set(k, Array.isArray(v) ? v.join(', ') : v);
          resolve({ method, url: url.pathname + url.search, status: res.statusCode ?? 0, headers: replyHeaders, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}

/** A body sent with chunked transfer encoding (no Content-Length), as Go sends an unsized reader. */
export async function* streamed(bytes: Buffer): AsyncIterable<Uint8Array> {
  for (let at = 0; at < bytes.length; at += 700) yield bytes.subarray(at, at + 700);
}
