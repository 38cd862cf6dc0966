/**
 * The repository allowance with real concurrency: two server processes on one database (as
 * several nodes would run), simultaneous first pushes into new repositories of a team whose
 * tier allows one. Exactly one push may open its repository, whichever node it reaches.
 * To make the pushes overlap for certain, the test holds back every write to repositories
 * for a moment while they arrive: each push can look at the count, none can act on it yet.
 * (test/http/upload-quota.test.ts does the same within one process.)
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseUrl } from '../support/database.js';
import { MAIN_JS, startServer, type TestServer } from '../support/server.js';

const run = promisify(execFile);
const REPOSITORIES = ['a', 'b', 'c', 'd', 'e', 'f'];

let one: TestServer;
let two: TestServer;
let databaseUrl: string;

beforeAll(async () => {
  databaseUrl = await testDatabaseUrl();
  // One public registry name for both nodes, as behind a load balancer: either accepts the other's JWTs.
  const args = ['--database-url', databaseUrl, '--registry-host', 'registry.race.test'];
  one = await startServer({ args });
  two = await startServer({ args });
});
afterAll(async () => {
  await two?.stop();
  await one?.stop();
});

/** Holds back writes to repositories (reads go on) until `release`. */
async function holdWrites(): Promise<{ release(): Promise<void> }> {
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new SqliteDatabase(databaseUrl.slice('sqlite:'.length));
    db.exec('BEGIN IMMEDIATE');
    return {
      release: async () => {
        db.exec('COMMIT');
        db.close();
      },
    };
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE repositories, uploads IN SHARE ROW EXCLUSIVE MODE');
  return {
    release: async () => {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

/** A new starter team (one repository) with a registry; a JWT for its repositories from server one. */
async function starterTeam(name: string): Promise<string> {
  const created = await run(process.execPath, [MAIN_JS, 'admin', 'team', 'create', name, '--tier', 'starter', '--database-url', databaseUrl]);
  const token = created.stdout.trim().split('\n').at(-1)!;
  const registry = await fetch(`${one.apiUrl}/v2/registries`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, subscription_tier_slug: 'starter' }),
  });
  expect(registry.status, await registry.text()).toBe(201);
  const query = new URLSearchParams({ service: 'registry.race.test' });
  for (const r of REPOSITORIES) query.append('scope', `repository:${name}/${r}:pull,push`);
  const res = await fetch(`${one.registryUrl}/auth/token?${query}`, { headers: { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` } });
  return ((await res.json()) as { token: string }).token;
}

describe('simultaneous first pushes on two nodes', () => {
  it('open exactly one repository on a one-repository tier, round after round', async () => {
    for (let round = 0; round < 4; round++) {
      const name = `race-${round}`;
      const jwt = await starterTeam(name);
      const held = await holdWrites();
      let pushes: Promise<number[]>;
      try {
        pushes = Promise.all(
          REPOSITORIES.map(async (repository, i) => {
            const server = i % 2 === 0 ? one : two;
            const res = await fetch(`${server.registryUrl}/v2/${name}/${repository}/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${jwt}` } });
            await res.arrayBuffer();
            return res.status;
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
      } finally {
        await held.release();
      }
      const statuses = await pushes;
      expect(statuses.filter((s) => s === 202), `round ${round}: ${statuses.join(', ')}`).toHaveLength(1);
      expect(statuses.filter((s) => s === 403), `round ${round}: ${statuses.join(", ")}`).toHaveLength(REPOSITORIES.length - 1);
    }
  });
});

describe('simultaneous first pushes into one new repository', () => {
  it('are all accepted on a one-repository tier: the repository another push just created is not another one', async () => {
    for (let round = 0; round < 4; round++) {
      const name = `same-${round}`;
      const jwt = await starterTeam(name);
      // As a client pushing an image's layers in parallel into a repository it has never used.
      const statuses = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          const server = i % 2 === 0 ? one : two;
          const res = await fetch(`${server.registryUrl}/v2/${name}/a/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${jwt}` } });
          return `${res.status} ${await res.text()}`.trim();
        }),
      );
      expect(statuses.filter((s) => s.startsWith('202')), `round ${round}: ${statuses.join('; ')}`).toHaveLength(8);
    }
  });
});
