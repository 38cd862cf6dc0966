/**
 * Berth in this process on ephemeral 127.0.0.1 ports, with a fresh data dir, a fresh
 * database of the project's dialect and fresh storage of the project's kind (the data dir, or
 * a new prefix in the run's S3 bucket): fast real-HTTP tests of both listeners.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { bootstrap } from '../src/bootstrap.js';
import { loadConfig, type ServeFlags } from '../src/config/index.js';
import { createContext, type AppContext, type ContextOverrides } from '../src/context.js';
import { createApiServer } from '../src/http/api/server.js';
import { createRegistryServer } from '../src/http/oci/server.js';
import { digestOf } from '../src/oci/index.js';
import { testDatabaseUrl } from './support/database.js';
import { testStorageUrl } from './support/storage.js';
import { makeTempDir } from './support/tmp.js';

export interface Harness {
  ctx: AppContext;
  /** The bootstrap team's full-access API token. */
  token: string;
  apiUrl: string;
  registryUrl: string;
  /** fetch() against the API listener; adds the bootstrap token unless told otherwise. */
  api(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  /** fetch() against the registry listener; `auth` is a Bearer JWT, `{basic}` or nothing. */
  registry(path: string, init?: RequestInit & { auth?: string | { basic: string } }): Promise<Response>;
  /** Creates a registry for the bootstrap team (or the given token's team). */
  createRegistry(name: string, token?: string): Promise<void>;
  /** A docker credential's password for a registry. */
  dockerPassword(name: string, options?: { readWrite?: boolean; expirySeconds?: number; token?: string }): Promise<string>;
  /** A JWT from GET /auth/token for the scopes, authenticating with `password`. */
  jwt(password: string, ...scopes: string[]): Promise<string>;
  /** A new team with a full-access token. */
  newTeam(name: string, tier?: 'starter' | 'basic' | 'professional'): Promise<string>;
  close(): Promise<void>;
}

export const REGISTRY_HOST = 'registry.test';

/** `overrides` reach createContext (e.g. a `clock` the test moves instead of waiting). */
export async function startHarness(flags: ServeFlags = {}, overrides: ContextOverrides = {}): Promise<Harness> {
  const token = `dop_v1_${randomBytes(32).toString('hex')}`;
  const config = loadConfig(
    {
      dataDir: await makeTempDir('berth'),
      databaseUrl: await testDatabaseUrl(),
      storageUrl: testStorageUrl(),
      apiListen: '127.0.0.1:0',
      registryListen: '127.0.0.1:0',
      registryHost: REGISTRY_HOST,
      logLevel: 'silent',
      ...flags,
    },
    { BERTH_BOOTSTRAP_TOKEN: token },
  );
  const ctx = await createContext(config, overrides);
  await bootstrap(ctx);
  const apiApp: FastifyInstance = createApiServer(ctx);
  const registryApp: FastifyInstance = createRegistryServer(ctx);
  await apiApp.listen({ host: '127.0.0.1', port: 0 });
  await registryApp.listen({ host: '127.0.0.1', port: 0 });
  const apiUrl = `http://127.0.0.1:${(apiApp.server.address() as AddressInfo).port}`;
  const registryUrl = `http://127.0.0.1:${(registryApp.server.address() as AddressInfo).port}`;

  const api: Harness['api'] = (path, init = {}) => {
    const headers = new Headers(init.headers);
    const bearer = init.token === undefined ? token : init.token;
    if (bearer !== null && !headers.has('authorization')) headers.set('authorization', `Bearer ${bearer}`);
    if (typeof init.body === 'string' && !headers.has('content-type')) headers.set('content-type', 'application/json');
    return fetch(`${apiUrl}${path}`, { ...init, headers });
  };
  const registry: Harness['registry'] = (path, init = {}) => {
    const headers = new Headers(init.headers);
    if (typeof init.auth === 'string') headers.set('authorization', `Bearer ${init.auth}`);
    else if (init.auth) headers.set('authorization', `Basic ${Buffer.from(`x:${init.auth.basic}`).toString('base64')}`);
    return fetch(path.startsWith('http') ? path : `${registryUrl}${path}`, { ...init, headers, duplex: 'half' } as RequestInit);
  };
  const harness: Harness = {
    ctx,
    token,
    apiUrl,
    registryUrl,
    api,
    registry,
    async createRegistry(name, asToken = token) {
      const res = await api('/v2/registries', { method: 'POST', token: asToken, body: JSON.stringify({ name, subscription_tier_slug: 'professional' }) });
      if (res.status !== 201) throw new Error(`creating registry ${name}: ${res.status} ${await res.text()}`);
    },
    async dockerPassword(name, options = {}) {
      const query = new URLSearchParams();
      if (options.readWrite) query.set('read_write', 'true');
      if (options.expirySeconds) query.set('expiry_seconds', String(options.expirySeconds));
      const res = await api(`/v2/registries/${name}/docker-credentials?${query}`, { token: options.token ?? token });
      if (res.status !== 200) throw new Error(`docker-credentials for ${name}: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { auths: Record<string, { auth: string }> };
      const decoded = Buffer.from(body.auths[REGISTRY_HOST]!.auth, 'base64').toString('utf8');
      return decoded.slice(decoded.indexOf(':') + 1);
    },
    async jwt(password, ...scopes) {
      const query = new URLSearchParams({ service: REGISTRY_HOST });
      for (const s of scopes) query.append('scope', s);
      const res = await registry(`/auth/token?${query}`, { auth: { basic: password } });
      if (res.status !== 200) throw new Error(`token for ${scopes.join(' ')}: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { token: string }).token;
    },
    async newTeam(name, tier = 'professional') {
      const team = await ctx.teams.create(name, tier);
      return (await ctx.credentials.issue({ teamId: team.id, kind: 'api', scopes: ['*'] })).secret;
    },
    async close() {
      await registryApp.close();
      await apiApp.close();
      await ctx.close();
    },
  };
  return harness;
}

export { digestOf };

/** Pushes a blob monolithically and returns its digest. */
export async function pushBlob(h: Harness, auth: string, name: string, bytes: Buffer): Promise<string> {
  const digest = digestOf(bytes);
  const res = await h.registry(`/v2/${name}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    auth,
    body: bytes,
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (res.status !== 201) throw new Error(`pushing blob: ${res.status} ${await res.text()}`);
  return digest;
}

/** Pushes a config + one layer + an OCI manifest under `reference`; returns the digests. */
export async function pushImage(
  h: Harness,
  auth: string,
  name: string,
  reference: string,
  extra: Record<string, unknown> = {},
): Promise<{ manifest: string; config: string; layer: string; bytes: Buffer }> {
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
  const layerBytes = randomBytes(1024);
  const config = await pushBlob(h, auth, name, configBytes);
  const layer = await pushBlob(h, auth, name, layerBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: configBytes.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: layerBytes.length }],
    ...extra,
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const res = await h.registry(`/v2/${name}/manifests/${reference}`, {
    method: 'PUT',
    auth,
    body: bytes,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  if (res.status !== 201) throw new Error(`pushing manifest: ${res.status} ${await res.text()}`);
  return { manifest: digestOf(bytes), config, layer, bytes };
}
