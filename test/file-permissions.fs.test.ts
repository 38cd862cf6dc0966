/**
 * Secrets at rest, with the real server: the data directory is created 0700, the SQLite
 * database (which holds the token service's private key) and its -wal/-shm are 0600, and so
 * is every blob and upload, in directories of 0700, whatever the umask. Data left readable by
 * an older version is tightened at the next start, with a log line naming what changed.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, lstat, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { digestOf } from '../src/oci/index.js';
import { testDialect } from './support/database.js';
import { startServer, type TestServer } from './support/server.js';
import { makeTempDir } from './support/tmp.js';

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

async function modeOf(path: string): Promise<number> {
  return (await lstat(path)).mode & 0o777;
}

/** Every path under `root` (itself included) with its permission bits. */
async function tree(root: string): Promise<Map<string, number>> {
  const out = new Map<string, number>([[root, await modeOf(root)]]);
  for (const entry of await readdir(root, { recursive: true })) out.set(join(root, entry), await modeOf(join(root, entry)));
  return out;
}

function sqliteFile(server: TestServer): string | undefined {
  return testDialect() === 'sqlite' ? server.databaseUrl.slice('sqlite:'.length) : undefined;
}

/** Creates a registry, pushes a blob and leaves an upload in progress. */
async function storeSomething(server: TestServer, name: string): Promise<void> {
  await server.createRegistry(name);
  const auth = `Basic ${Buffer.from(`x:${server.token}`).toString('base64')}`;
  const tokenRes = await fetch(`${server.registryUrl}/auth/token?service=${server.registryHost}&scope=repository:${name}/app:pull,push`, { headers: { authorization: auth } });
  const { token } = (await tokenRes.json()) as { token: string };
  const bearer = { authorization: `Bearer ${token}` };
  const blob = randomBytes(1000);
  const pushed = await fetch(`${server.registryUrl}/v2/${name}/app/blobs/uploads/?digest=${digestOf(blob)}`, { method: 'POST', headers: bearer, body: blob });
  expect(pushed.status).toBe(201);
  const started = await fetch(`${server.registryUrl}/v2/${name}/app/blobs/uploads/`, { method: 'POST', headers: bearer });
  expect(started.status).toBe(202);
  const patched = await fetch(`${server.registryUrl}${started.headers.get('location')}`, { method: 'PATCH', headers: bearer, body: randomBytes(500) });
  expect(patched.status).toBe(202);
}

describe('files Berth creates', () => {
  it('are owner-only from the first start, whatever the umask lets through', async () => {
    const dataDir = join(await makeTempDir('perm'), 'new', 'data');
    const server = await startServer({ args: ['--data-dir', dataDir, '--log-level', 'info'] });
    servers.push(server);
    await storeSomething(server, 'fresh');

    const paths = await tree(dataDir);
    expect([...paths.keys()].some((p) => p.includes('/blobs/sha256/'))).toBe(true);
    expect([...paths.keys()].some((p) => p.includes('/uploads/'))).toBe(true);
    for (const [path, mode] of paths) {
      const isDir = (await lstat(path)).isDirectory();
      expect(mode.toString(8), path).toBe(isDir ? '700' : '600');
    }
    const db = sqliteFile(server);
    if (db) {
      for (const file of [db, `${db}-wal`, `${db}-shm`]) {
        expect(existsSync(file), file).toBe(true);
        expect((await modeOf(file)).toString(8), file).toBe('600');
      }
    }
    // Nothing to tighten on a fresh start.
    expect(server.logs).not.toContain('owner-only');
  });
});

describe('data left readable by an older version', () => {
  it('is tightened at start, with a log line naming what changed; symbolic links are left alone', async () => {
    const server = await startServer();
    servers.push(server);
    await storeSomething(server, 'legacy');
    await server.stop();

    // What an older version (or a copy with a lax umask) left behind.
    const before = await tree(server.dataDir);
    for (const [path] of before) await chmod(path, (await lstat(path)).isDirectory() ? 0o755 : 0o644);
    const outside = join(await makeTempDir('outside'), 'note');
    await writeFile(outside, 'not ours');
    await chmod(outside, 0o644);
    await symlink(outside, join(server.dataDir, 'link-to-outside'));
    const db = sqliteFile(server);
    const dbFiles = db ? [db, `${db}-wal`, `${db}-shm`].filter((f) => existsSync(f)) : [];
    for (const file of dbFiles) await chmod(file, 0o644);

    await server.restart();
    for (const [path, mode] of await tree(server.dataDir)) {
      const stats = await lstat(path);
      if (stats.isSymbolicLink()) continue;
      expect(mode.toString(8), path).toBe(stats.isDirectory() ? '700' : '600');
    }
    if (db) expect((await modeOf(db)).toString(8)).toBe('600');
    expect((await modeOf(outside)).toString(8)).toBe('644');

    const line = server.logs.split('\n').find((l) => l.includes('owner-only'));
    expect(line, server.logs).toBeDefined();
    const entry = JSON.parse(line!) as { level: number; msg: string; changed: number; paths: string[] };
    expect(entry.level).toBe(40);
    expect(entry.changed).toBe(before.size + dbFiles.length);
    expect(entry.paths).toContain(`${server.dataDir} 0755→0700`);
    expect(entry.paths.some((p) => /\/blobs\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64} 0644→0600$/.test(p)), entry.paths.join('\n')).toBe(true);
    expect(entry.msg).toContain(`${server.dataDir} 0755→0700`);

    // Tightened once: the next start has nothing to say.
    const logged = server.logs.length;
    await server.restart();
    expect(server.logs.slice(logged)).not.toContain('owner-only');
    // And the server works on the tightened data.
    expect((await server.api('/v2/registries/legacy')).status).toBe(200);
  });
});
