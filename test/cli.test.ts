/**
 * The `berth` command line as child processes of `node dist/main.js` (run `npm run build`
 * first): admin commands that print tokens (also while a server runs), configuration errors
 * that stop `serve` with every problem listed, the bootstrap token printed once, and SIGTERM
 * draining in-flight requests before exiting 0.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../src/oci/index.js';
import { run, type RunResult } from './support/exec.js';
import { registryToken } from './support/registry.js';
import { MAIN_JS, REPO_ROOT, startServer, uniqueName, type TestServer } from './support/server.js';
import { makeTempDir } from './support/tmp.js';

const TOKEN = /^dop_v1_[0-9a-f]{64}$/;

/** The environment without the developer's BERTH_* settings (test settings stay). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('BERTH_') || key.startsWith('BERTH_TEST_')) env[key] = value;
  }
  return { ...env, ...extra };
}

function berth(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return run(process.execPath, [MAIN_JS, ...args], { cwd: REPO_ROOT, env: cleanEnv(env), timeoutMs: 20_000 });
}

function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1)!.trim();
}

function describeRun(result: RunResult): string {
  return `$ ${result.command}\n(exit ${result.code}, signal ${result.signal})\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

interface TokenRow {
  kind: string;
  scopes: string;
  expires_at: number | string | null;
  revoked_at: number | string | null;
}

/** The tokens row for a secret, read straight from the server's database of either dialect. */
async function tokenRow(databaseUrl: string, secret: string): Promise<TokenRow | undefined> {
  const hash = createHash('sha256').update(secret).digest('hex');
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new Database(databaseUrl.slice('sqlite:'.length), { readonly: true });
    try {
      return db.prepare('SELECT kind, scopes, expires_at, revoked_at FROM tokens WHERE hash = ?').get(hash) as TokenRow | undefined;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const result = await client.query<TokenRow>('SELECT kind, scopes, expires_at, revoked_at FROM tokens WHERE hash = $1', [hash]);
    return result.rows[0];
  } finally {
    await client.end();
  }
}

/** Every secret of a token table, to prove no plaintext is stored. */
async function tokenDump(databaseUrl: string): Promise<string> {
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new Database(databaseUrl.slice('sqlite:'.length), { readonly: true });
    try {
      return JSON.stringify(db.prepare('SELECT * FROM tokens').all());
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return JSON.stringify((await client.query('SELECT * FROM tokens')).rows);
  } finally {
    await client.end();
  }
}

function apiAs(server: TestServer, token: string, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  if (typeof init.body === 'string') headers.set('content-type', 'application/json');
  return fetch(`${server.apiUrl}${path}`, { ...init, headers });
}

describe('berth admin, while a server runs on the same database', { timeout: 60_000 }, () => {
  let server: TestServer;
  let db: string[];

  beforeAll(async () => {
    server = await startServer();
    db = ['--data-dir', server.dataDir, '--database-url', server.databaseUrl];
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('`admin team create NAME` prints a full-access token as its last line, and the running server accepts it', async () => {
    const result = await berth(['admin', 'team', 'create', 'cli-team', ...db]);
    expect(result.code, describeRun(result)).toBe(0);
    const token = lastLine(result.stdout);
    expect(token).toMatch(TOKEN);
    expect(result.stdout).toContain('cli-team');

    const created = await apiAs(server, token, '/v2/registries', { method: 'POST', body: JSON.stringify({ name: uniqueName('cli') }) });
    expect(created.status).toBe(201);
    const list = (await (await apiAs(server, token, '/v2/registries')).json()) as { registries: unknown[] };
    expect(list.registries).toHaveLength(1);
    // It belongs to the new team, not to the bootstrap team.
    const bootstrapList = (await (await server.api('/v2/registries')).json()) as { registries: unknown[] };
    expect(bootstrapList.registries).toHaveLength(0);

    const row = await tokenRow(server.databaseUrl, token);
    expect(row?.kind).toBe('api');
    expect(JSON.parse(row!.scopes)).toEqual(['*']);
    expect(await tokenDump(server.databaseUrl)).not.toContain(token);
  });

  it('`admin token create --team NAME --scopes registry:read --expires-in 1h` prints a read-only token that expires in an hour', async () => {
    const team = await berth(['admin', 'team', 'create', 'reader-team', ...db]);
    expect(team.code, describeRun(team)).toBe(0);
    const teamToken = lastLine(team.stdout);
    expect((await apiAs(server, teamToken, '/v2/registries', { method: 'POST', body: JSON.stringify({ name: 'reader-reg' }) })).status).toBe(201);

    const before = Date.now();
    const result = await berth(['admin', 'token', 'create', '--team', 'reader-team', '--scopes', 'registry:read', '--expires-in', '1h', ...db]);
    const after = Date.now();
    expect(result.code, describeRun(result)).toBe(0);
    const token = lastLine(result.stdout);
    expect(token).toMatch(TOKEN);
    expect(token).not.toBe(teamToken);

    const list = await apiAs(server, token, '/v2/registries');
    expect(list.status).toBe(200);
    expect(((await list.json()) as { registries: { name: string }[] }).registries.map((r) => r.name)).toEqual(['reader-reg']);
    const create = await apiAs(server, token, '/v2/registries', { method: 'POST', body: JSON.stringify({ name: 'reader-two' }) });
    expect(create.status).toBe(403);
    expect(((await create.json()) as { id: string }).id).toBe('forbidden');
    expect((await apiAs(server, token, '/v2/registries/reader-reg', { method: 'DELETE' })).status).toBe(403);

    const row = await tokenRow(server.databaseUrl, token);
    expect(JSON.parse(row!.scopes)).toEqual(['registry:read']);
    expect(Number(row!.expires_at)).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(Number(row!.expires_at)).toBeLessThanOrEqual(after + 3_600_000);
  });

  it('with BERTH_BOOTSTRAP_TOKEN set, serve printed no token and that token works', async () => {
    expect(server.logs).not.toMatch(/dop_v1_/);
    expect((await server.api('/v2/registries')).status).toBe(200);
  });

  it('a token for an unknown team: non-zero exit, a clear message, no token', async () => {
    const result = await berth(['admin', 'token', 'create', '--team', 'no-such-team', ...db]);
    expect(result.code, describeRun(result)).not.toBe(0);
    expect(result.stderr).toContain('team "no-such-team" does not exist');
    expect(result.stdout).not.toMatch(/dop_v1_/);
  });

  it('bad --scopes, bad --expires-in and a duplicate team are refused with non-zero exits', async () => {
    const [scopes, expires, duplicate] = await Promise.all([
      berth(['admin', 'token', 'create', '--team', 'cli-team', '--scopes', 'registry:write', ...db]),
      berth(['admin', 'token', 'create', '--team', 'cli-team', '--expires-in', 'soon', ...db]),
      berth(['admin', 'team', 'create', 'cli-team', ...db]),
    ]);
    expect(scopes.code, describeRun(scopes)).not.toBe(0);
    expect(scopes.stderr).toContain('registry:write');
    expect(scopes.stdout).not.toMatch(/dop_v1_/);

    expect(expires.code, describeRun(expires)).not.toBe(0);
    expect(expires.stderr).toContain('--expires-in');
    expect(expires.stdout).not.toMatch(/dop_v1_/);

    expect(duplicate.code, describeRun(duplicate)).not.toBe(0);
    expect(duplicate.stderr).toContain('already exists');
    expect(duplicate.stdout).not.toMatch(/dop_v1_/);
  });

  it('SIGTERM on the idle server exits 0', async () => {
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});

describe('berth admin with only --data-dir, then a server on that data dir', { timeout: 60_000 }, () => {
  it('the team token printed before the server starts works against it', async () => {
    const dataDir = join(await makeTempDir('cli-data'), 'data');
    const result = await berth(['admin', 'team', 'create', 'early-team', '--data-dir', dataDir]);
    expect(result.code, describeRun(result)).toBe(0);
    const token = lastLine(result.stdout);
    expect(token).toMatch(TOKEN);
    expect(existsSync(join(dataDir, 'berth.db'))).toBe(true);
    expect((await tokenRow(`sqlite:${join(dataDir, 'berth.db')}`, token))?.kind).toBe('api');

    // Flags given later win, so this server uses the SQLite database in that data dir.
    const server = await startServer({ args: ['--data-dir', dataDir, '--database-url', `sqlite:${join(dataDir, 'berth.db')}`] });
    try {
      const created = await apiAs(server, token, '/v2/registries', { method: 'POST', body: JSON.stringify({ name: 'early-reg' }) });
      expect(created.status).toBe(201);
      const list = await apiAs(server, token, '/v2/registries');
      expect(((await list.json()) as { registries: { name: string }[] }).registries.map((r) => r.name)).toEqual(['early-reg']);
    } finally {
      expect(await server.stop()).toEqual({ code: 0, signal: null });
    }
  });
});

describe('berth serve with a bad configuration', { timeout: 60_000 }, () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await makeTempDir('bad-config');
  });

  /** Flags that would otherwise be fine and never bind a well-known port. */
  const safe = () => ['--data-dir', dataDir, '--registry-listen', '127.0.0.1:0', '--log-level', 'warn'];

  it('exits non-zero and lists every problem at once', async () => {
    const result = await berth(['serve', ...safe(), '--api-listen', 'nonsense', '--database-url', 'mysql://x', '--token-ttl', 'abc'], { BERTH_BOOTSTRAP_TOKEN: 'bad' });
    expect(result.code, describeRun(result)).not.toBe(0);
    expect(result.code).not.toBeNull();
    const out = result.stderr;
    expect(out).toContain('--api-listen');
    expect(out).toContain('"nonsense"');
    expect(out).toContain('BERTH_BOOTSTRAP_TOKEN');
    expect(out).toContain('--database-url');
    expect(out).toContain('mysql://x');
    expect(out).toContain('--token-ttl');
    expect(out).toContain('"abc"');
    expect(result.stdout).not.toMatch(/dop_v1_/);
    expect(existsSync(join(dataDir, 'berth.db'))).toBe(false);
  });

  // The four above are covered together; these are further settings, each on its own.
  it.each([
    ['--registry-listen 127.0.0.1:99999', ['--registry-listen', '127.0.0.1:99999'], {}, '--registry-listen'],
    ['--write-token-ttl 0s', ['--write-token-ttl', '0s'], {}, '--write-token-ttl'],
    ['BERTH_API_LISTEN=nonsense', [], { BERTH_API_LISTEN: 'nonsense' }, 'BERTH_API_LISTEN'],
  ] as [string, string[], Record<string, string>, string][])('%s alone: non-zero exit naming the setting', async (_label, args, env, mention) => {
    // A harmless API listener unless the case is about that very setting.
    const api = args.includes('--api-listen') || 'BERTH_API_LISTEN' in env ? [] : ['--api-listen', '127.0.0.1:0'];
    const result = await berth(['serve', ...safe(), ...api, ...args], env);
    expect(result.code, describeRun(result)).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toContain(mention);
    expect(result.stderr).toContain('invalid configuration');
  });
});

describe('the bootstrap token', { timeout: 60_000 }, () => {
  it('is printed once on the first start without BERTH_BOOTSTRAP_TOKEN, and not on the second', async () => {
    const server = await startServer({ env: { BERTH_BOOTSTRAP_TOKEN: '' } });
    try {
      const printed = server.logs.match(/dop_v1_[0-9a-f]{64}/g) ?? [];
      expect(printed, server.logs).toHaveLength(1);
      const token = printed[0]!;
      expect(token).not.toBe(server.token);
      const list = await apiAs(server, token, '/v2/registries');
      expect(list.status).toBe(200);
      // The harness's own random token was never installed.
      expect((await server.api('/v2/registries')).status).toBe(401);

      const before = server.logs.length;
      await server.restart();
      const second = server.logs.slice(before);
      expect(second).not.toMatch(/dop_v1_/);
      expect(second).not.toContain('Created team');
      expect((await apiAs(server, token, '/v2/registries')).status).toBe(200);
    } finally {
      expect(await server.stop()).toEqual({ code: 0, signal: null });
    }
  });
});

describe('SIGTERM', { timeout: 60_000 }, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** A registry with a read-write JWT and a started upload session. */
  async function startedUpload(): Promise<{ repository: string; credentials: { username: string; password: string }; jwt: string; location: string }> {
    const registry = uniqueName('drain');
    await server.createRegistry(registry);
    const credentials = server.credentialsOf(await server.dockerCredentials(registry, { readWrite: true }));
    const repository = `${registry}/app`;
    const jwt = await registryToken(server, credentials, `repository:${repository}:pull,push`);
    const start = await fetch(`${server.registryUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${jwt}` } });
    expect(start.status).toBe(202);
    return { repository, credentials, jwt, location: start.headers.get('location')! };
  }

  /**
   * A PATCH whose body arrives in two halves: the first now, the second when `sendRest()` is
   * called. `agent` decides whether the connection stays open after the response.
   */
  function slowPatch(location: string, jwt: string, first: Buffer, second: Buffer, agent: Agent) {
    const url = new URL(location, server.registryUrl);
    let sendRest!: () => void;
    const response = new Promise<{ status: number; range: string | undefined; location: string | undefined }>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: `${url.pathname}${url.search}`,
          method: 'PATCH',
          agent,
          headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/octet-stream' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, range: res.headers.range, location: res.headers.location }));
        },
      );
      req.on('error', reject);
      req.write(first);
      sendRest = () => req.end(second);
    });
    return { response, sendRest: () => sendRest() };
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('drains a slow upload in flight, then exits 0; the upload’s bytes survive a restart', async () => {
    const { repository, credentials, jwt, location } = await startedUpload();
    const first = randomBytes(64 * 1024);
    const second = randomBytes(64 * 1024);
    // This client closes its connection after the response (Connection: close).
    const agent = new Agent({ keepAlive: false });
    const patch = slowPatch(location, jwt, first, second, agent);

    // The request is in flight (headers and the first half sent); now ask the server to stop.
    await sleep(300);
    const exited = server.stop('SIGTERM');
    await sleep(300);
    // New work is no longer taken while draining.
    const late = await fetch(`${server.registryUrl}/v2/`, { headers: { authorization: `Bearer ${jwt}` }, signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(late === 'refused' || late === 503, `late request answered ${late}`).toBe(true);
    patch.sendRest();

    const answer = await patch.response;
    expect(answer.status).toBe(202);
    expect(answer.range).toBe(`0-${first.length + second.length - 1}`);
    expect(await exited).toEqual({ code: 0, signal: null });

    // The whole chunk was stored: after a restart the session reports it and the upload completes.
    await server.restart();
    const jwt2 = await registryToken(server, credentials, `repository:${repository}:pull,push`);
    const status = await fetch(new URL(answer.location!, server.registryUrl), { headers: { authorization: `Bearer ${jwt2}` } });
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${first.length + second.length - 1}`);
    const digest = digestOf(Buffer.concat([first, second]));
    const finishUrl = new URL(answer.location!, server.registryUrl);
    finishUrl.searchParams.set('digest', digest);
    const finish = await fetch(finishUrl, { method: 'PUT', headers: { authorization: `Bearer ${jwt2}` } });
    expect(finish.status).toBe(201);
    expect(finish.headers.get('docker-content-digest')).toBe(digest);
  });

  it('exits promptly once the in-flight request is done, even when its client keeps the connection alive (as docker and containerd do)', async () => {
    const { jwt, location } = await startedUpload();
    // Keep-alive with no idle timeout of its own: the connection stays open until the server closes it.
    const agent = new Agent({ keepAlive: true });
    const patch = slowPatch(location, jwt, randomBytes(1024), randomBytes(1024), agent);
    await sleep(300);
    const exited = server.stop('SIGTERM');
    await sleep(200);
    patch.sendRest();
    const answer = await patch.response;
    expect(answer.status).toBe(202);

    const prompt = await Promise.race([exited.then(() => true), sleep(3_000).then(() => false)]);
    // Let a server that is still waiting for the connection go, so the run stays fast.
    agent.destroy();
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(prompt, 'the server was still running 3 s after its last request finished (waiting for an idle keep-alive connection)').toBe(true);
  });
});
