/**
 * Small images and referrers pushed over the OCI API with fetch (fast enough to make dozens
 * of repositories), authenticated through Berth's token service with an API token.
 */
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { registryFetch, registryToken } from '../support/registry.js';
import type { TestServer } from '../support/server.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
const LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A push/pull JWT for `repository`, from an API token used as the registry password. */
export function pushToken(server: TestServer, apiToken: string, repository: string): Promise<string> {
  return registryToken(server, { username: 'berth', password: apiToken }, `repository:${repository}:pull,push`);
}

export async function pushBlob(server: TestServer, jwt: string, repository: string, bytes: Buffer): Promise<string> {
  const digest = digestOf(bytes);
  const res = await registryFetch(server, jwt, `/v2/${repository}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  if (res.status !== 201) throw new Error(`pushing a blob to ${repository}: ${res.status} ${await res.text()}`);
  return digest;
}

export async function pushManifest(server: TestServer, jwt: string, repository: string, reference: string, manifest: object, mediaType = OCI_MANIFEST): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(manifest));
  const res = await registryFetch(server, jwt, `/v2/${repository}/manifests/${reference}`, { method: 'PUT', body: bytes, headers: { 'content-type': mediaType } });
  if (res.status !== 201) throw new Error(`pushing a manifest to ${repository}:${reference}: ${res.status} ${await res.text()}`);
  return { mediaType, digest: digestOf(bytes), size: bytes.length };
}

/** A linux/amd64 image of a config and one gzip layer of `layerBytes` random bytes, tagged `tag` (or by digest). */
export async function pushSmallImage(server: TestServer, apiToken: string, repository: string, tag: string | null, layerBytes = 2048): Promise<Descriptor> {
  const jwt = await pushToken(server, apiToken, repository);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
  const layer = gzipSync(randomBytes(layerBytes));
  const [configDigest, layerDigest] = await Promise.all([pushBlob(server, jwt, repository, config), pushBlob(server, jwt, repository, layer)]);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
    layers: [{ mediaType: LAYER_GZIP, digest: layerDigest, size: layer.length }],
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return pushManifest(server, jwt, repository, tag ?? digestOf(bytes), manifest);
}

/**
 * An OCI 1.1 artifact whose subject is `subject` (what cosign, notation and oras push): the
 * empty config, one blob of content, `artifactType`, pushed by digest.
 */
export async function pushReferrer(server: TestServer, apiToken: string, repository: string, subject: Descriptor, artifactType: string, content: string): Promise<Descriptor> {
  const jwt = await pushToken(server, apiToken, repository);
  const empty = Buffer.from('{}');
  const blob = Buffer.from(content);
  const [emptyDigest, blobDigest] = await Promise.all([pushBlob(server, jwt, repository, empty), pushBlob(server, jwt, repository, blob)]);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: { mediaType: OCI_EMPTY, digest: emptyDigest, size: empty.length },
    layers: [{ mediaType: artifactType, digest: blobDigest, size: blob.length }],
    subject,
    annotations: { 'org.opencontainers.image.created': new Date().toISOString() },
  };
  return pushManifest(server, jwt, repository, digestOf(Buffer.from(JSON.stringify(manifest))), manifest);
}
