/**
 * A node whose blob storage is not the one its database's blobs live in refuses to start:
 * the case that matters is a second filesystem node with its own disk on a shared database
 * (on S3, another bucket prefix). A node on the same storage starts. Real servers.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/exec.js';
import { freePort } from '../support/postgres.js';
import { registryFetch, registryToken } from '../support/registry.js';
import { MAIN_JS, startServer, uniqueName, type TestServer } from '../support/server.js';
import { testS3Env, testStorageUrl } from '../support/storage.js';
import { makeTempDir } from '../support/tmp.js';
import { sha256Digest } from '../support/images.js';

describe('storage identity', { timeout: 60_000 }, () => {
  let first: TestServer;

  beforeAll(async () => {
    first = await startServer();
    const registry = uniqueName('identity');
    await first.createRegistry(registry);
    const credentials = first.credentialsOf(await first.dockerCredentials(registry, { readWrite: true }));
    const token = await registryToken(first, credentials, `repository:${registry}/app:pull,push`);
    const bytes = randomBytes(1000);
    const pushed = await registryFetch(first, token, `/v2/${registry}/app/blobs/uploads/?digest=${sha256Digest(bytes)}`, { method: 'POST', body: bytes });
    expect(pushed.status).toBe(201);
  });
  afterAll(async () => {
    await first?.stop();
  });

  it('refuses a node with other storage on the same database, naming both', async () => {
    const args = [MAIN_JS, 'serve', '--data-dir', await makeTempDir('other-node'), '--database-url', first.databaseUrl];
    const otherStorage = testStorageUrl();
    if (otherStorage) args.push('--storage-url', otherStorage);
    args.push('--api-listen', `127.0.0.1:${await freePort()}`, '--registry-listen', `127.0.0.1:${await freePort()}`);
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BERTH_') || k.startsWith('BERTH_TEST_')) env[k] = v;
    const result = await run(process.execPath, args, { env: { ...env, ...testS3Env() }, timeoutMs: 30_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/this database's blobs are in storage (file:[0-9a-f-]{36}|s3:\/\/\S+), but this node's storage is (file:|s3:)/);
    if (!otherStorage) expect(result.stderr).toContain('several nodes on one database need shared storage (S3');
  });

  it('starts a second node on the same storage', async () => {
    const second = await startServer({ databaseUrl: first.databaseUrl, dataDir: first.dataDir, storageUrl: first.storageUrl });
    try {
      expect((await second.api('/v2/registries')).status).toBe(200);
    } finally {
      await second.stop();
    }
  });
});
