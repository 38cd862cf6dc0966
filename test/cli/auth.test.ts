/**
 * `berth auth …` and the global flags, in-process against a real Berth: contexts in the
 * configuration file, the precedence flag > environment > context, --trace and
 * --http-retry-max against a real rate limit, and doctl's messages for wrong contexts.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startHarness, type Harness } from '../harness.js';
import { freePort } from '../support/postgres.js';
import { makeTempDir } from '../support/tmp.js';
import { berthIn, berthOk, describeCli, newMachine, normalize, type Machine } from './support.js';

let h: Harness;
let tokenA: string;
let tokenB: string;

beforeAll(async () => {
  h = await startHarness({ rateLimitPerMinute: '100000', rateLimitPerHour: '1000000' });
  tokenA = await h.newTeam('team-a', 'professional');
  tokenB = await h.newTeam('team-b', 'professional');
  await h.createRegistry('reg-a', tokenA);
  await h.createRegistry('reg-b', tokenB);
});
afterAll(() => h?.close());

const names = async (m: Machine, args: string[], env = {}) =>
  (await berthOk(m, ['registries', 'list', '--format', 'Name', '--no-header', ...args], { env })).stdout.trim();

describe('berth auth', { timeout: 60_000 }, () => {
  it('init, list, switch, token and remove, as doctl keeps contexts', async () => {
    const m = await newMachine();
    await berthOk(m, ['auth', 'init', '-t', tokenA, '-u', h.apiUrl]);
    const staging = await berthOk(m, ['auth', 'init', '--context', 'Staging', '--access-token', tokenB, '--api-url', `${h.apiUrl}/`]);
    expect(staging.stdout).toBe('Using token for context staging\n\nValidating token... ✔\n\n');
    const config = parse(await readFile(m.configFile, 'utf8')) as Record<string, unknown>;
    expect(config).toEqual({
      'auth-contexts': {
        default: { 'api-url': h.apiUrl, 'access-token': tokenA },
        staging: { 'api-url': h.apiUrl, 'access-token': tokenB },
      },
      context: 'default',
    });
    expect((await stat(m.configFile)).mode & 0o777).toBe(0o600);

    expect((await berthOk(m, ['auth', 'list'])).stdout).toBe('default (current)\nstaging\n');
    expect(JSON.parse((await berthOk(m, ['auth', 'ls', '-o', 'json'])).stdout)).toEqual([
      { name: 'default', current: true, api_url: h.apiUrl },
      { name: 'staging', current: false, api_url: h.apiUrl },
    ]);
    expect(await names(m, [])).toBe('reg-a');
    expect(await names(m, ['--context', 'staging'])).toBe('reg-b');
    expect(await names(m, [], { BERTH_CONTEXT: 'staging' })).toBe('reg-b');
    expect((await berthOk(m, ['auth', 'list', '--context', 'staging'])).stdout).toBe('default\nstaging (current)\n');

    expect((await berthOk(m, ['auth', 'switch', '--context', 'staging'])).stdout).toBe('Now using context [staging] by default\n');
    expect(await names(m, [])).toBe('reg-b');
    expect((await berthOk(m, ['auth', 'token'])).stdout).toBe(`${tokenB}\n`);
    expect((await berthOk(m, ['auth', 't', '--context', 'default'])).stdout).toBe(`${tokenA}\n`);
    const nope = await berthIn(m, ['auth', 'switch', '--context', 'nope']);
    expect(nope).toMatchObject({ code: 1, stderr: 'Error: context does not exist\n' });

    expect((await berthIn(m, ['auth', 'remove'])).stderr).toBe('Error: You must provide a context name\n');
    expect((await berthIn(m, ['auth', 'remove', '--context', 'nope'])).stderr).toBe('Error: Context not found\n');
    expect((await berthOk(m, ['auth', 'remove', '--context', 'staging'])).stdout).toBe('Context deleted successfully\n');
    expect((await berthOk(m, ['auth', 'list'])).stdout).toBe('default (current)\n');
    expect(await names(m, [])).toBe('reg-a');
  });

  it('a context that does not exist, or has no token, is one clear line', async () => {
    const m = await newMachine();
    const none = await berthIn(m, ['registries', 'list']);
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(none.stderr).toBe("Error: no access token for context \"default\": run 'berth auth init', or pass --access-token or set BERTH_ACCESS_TOKEN\n");
    const missing = await berthIn(m, ['registries', 'list', '--context', 'prod']);
    expect(missing.stderr).toBe(`Error: context "prod" does not exist in ${m.configFile}; create it with 'berth auth init --context prod'\n`);
    const json = await berthIn(m, ['registries', 'list', '--context', 'prod', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toEqual({ errors: [{ detail: `context "prod" does not exist in ${m.configFile}; create it with 'berth auth init --context prod'` }] });
  });

  it('flags win over the environment, the environment over the context', async () => {
    const m = await newMachine();
    await berthOk(m, ['auth', 'init', '-t', tokenA, '-u', h.apiUrl]);
    expect(await names(m, [], { BERTH_ACCESS_TOKEN: tokenB })).toBe('reg-b');
    expect(await names(m, ['-t', tokenA], { BERTH_ACCESS_TOKEN: tokenB })).toBe('reg-a');
    // The program's own position for global flags: before the command.
    expect((await berthOk(m, ['-t', tokenB, 'registries', 'list', '--format', 'Name', '--no-header'])).stdout).toBe('reg-b\n');
    // Nothing listens on a port just freed: the request is refused.
    const closed = `http://127.0.0.1:${await freePort()}`;
    const wrongUrl = await berthIn(m, ['registries', 'list', '--http-retry-max', '0'], { env: { BERTH_API_URL: closed } });
    expect(wrongUrl.code).toBe(1);
    expect(wrongUrl.stderr).toBe(`Error: GET ${closed}/v2/registries: connect ECONNREFUSED ${closed.slice('http://'.length)}\n`);
    expect((await berthOk(m, ['registries', 'list', '-u', h.apiUrl, '--format', 'Name', '--no-header'], { env: { BERTH_API_URL: closed } })).stdout).toBe('reg-a\n');
  });

  it('--config and $XDG_CONFIG_HOME choose the file; without XDG_CONFIG_HOME it is ~/.config/berth/config.yaml', async () => {
    const m = await newMachine();
    const custom = join(await makeTempDir('custom-config'), 'berth.yaml');
    await berthOk(m, ['auth', 'init', '-t', tokenB, '-u', h.apiUrl, '--config', custom]);
    expect(await names(m, ['-c', custom])).toBe('reg-b');
    expect((await stat(custom)).mode & 0o777).toBe(0o600);

    const bare = await newMachine();
    const env = { ...bare.env };
    delete env.XDG_CONFIG_HOME;
    await berthOk({ ...bare, env }, ['auth', 'init', '-t', tokenA, '-u', h.apiUrl]);
    expect(await readFile(join(bare.home, '.config', 'berth', 'config.yaml'), 'utf8')).toContain(tokenA);

    const broken = join(await makeTempDir('broken'), 'config.yaml');
    await writeFile(broken, 'auth-contexts: [oops\n');
    const result = await berthIn(m, ['registries', 'list', '-c', broken]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^Error: Config initialization failed: ${broken}: .+\\n$`));
  });

  it('init refuses a bad token, shows ✘, and keeps the file as it was', async () => {
    const m = await newMachine();
    await berthOk(m, ['auth', 'init', '-t', tokenA, '-u', h.apiUrl]);
    const before = await readFile(m.configFile, 'utf8');
    const bad = await berthIn(m, ['auth', 'init', '--context', 'other', '-t', `dop_v1_${'0'.repeat(64)}`, '-u', h.apiUrl]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('Using token for context other\n\nValidating token... ✘\n\n');
    expect(normalize(bad.stderr)).toBe(
      'Error: Unable to use supplied token to access API: GET http://127.0.0.1:<port>/v2/registries: 401 (request "<request-id>") Unable to authenticate you: the token is invalid, expired or revoked.\n',
    );
    expect(await readFile(m.configFile, 'utf8')).toBe(before);
    const url = await berthIn(m, ['auth', 'init', '-t', tokenA, '-u', 'ftp://example']);
    expect(url.stderr).toBe('Error: invalid API URL "ftp://example": it must start with http:// or https://\n');
    const noTerminal = await berthIn(m, ['auth', 'init', '--context', 'x']);
    expect(noTerminal.stderr).toBe('Error: Unable to read Berth access token: unknown terminal (pass --access-token, or run in a terminal)\n');
  });

  it('init reads the API URL and the token from a pipe with --interactive (the terminal case is in prompts.test.ts)', async () => {
    const m = await newMachine();
    const result = await berthOk(m, ['auth', 'init', '--interactive'], { input: `${h.apiUrl}\n${tokenB}\n` });
    expect(result.stderr).toContain('❯ Enter the API URL (http://127.0.0.1:8080): \n❯ Enter your access token: \n');
    expect(result.stderr).not.toContain(tokenB);
    expect(result.stdout).toBe('\nValidating token... ✔\n\n');
    expect(await names(m, [])).toBe('reg-b');
  });

  it('a read-only token lists registries; the Endpoint column says it cannot learn the host', async () => {
    const m = await newMachine();
    const team = await h.ctx.teams.byName('team-a');
    const readOnly = (await h.ctx.credentials.issue({ teamId: team!.id, kind: 'api', scopes: ['registry:read'] })).secret;
    const result = await berthOk(m, ['registries', 'list', '-t', readOnly, '-u', h.apiUrl]);
    expect(result.stdout).toBe('Name     Endpoint           Region slug\nreg-a    <unknown>/reg-a    nyc3\n');
    expect(result.stderr).toMatch(/^Warning: cannot learn the registry host \(.+\); the Endpoint column shows <unknown>\n$/);
    // Asking only for other columns asks nothing more of the API.
    expect(await berthOk(m, ['registries', 'list', '-t', readOnly, '-u', h.apiUrl, '--format', 'Name,Region'])).toMatchObject({ stderr: '' });
  });

  it('--trace logs every request without the token', async () => {
    const m = await newMachine();
    await berthOk(m, ['auth', 'init', '-t', tokenA, '-u', h.apiUrl]);
    const traced = await berthOk(m, ['registries', 'get', 'reg-a', '--trace']);
    expect(traced.stderr).not.toContain(tokenA);
    const lines = traced.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^trace: GET http:\/\/127\.0\.0\.1:\d+\/v2\/registries\/reg-a -> 200 \(\d+ ms, request [^)]+\)$/);
    // The Endpoint column learns the registry host through a short-lived credential it revokes.
    expect(lines.slice(1).map((l) => l.replace(/^trace: (\w+) http:\/\/127\.0\.0\.1:\d+(\S+).*$/, '$1 $2'))).toEqual([
      'GET /v2/registries/reg-a/docker-credentials?read_write=false&expiry_seconds=60',
      'POST /v1/oauth/revoke',
    ]);
  });
});

describe('--http-retry-max against a real rate limit', { timeout: 60_000 }, () => {
  let limited: Harness;
  beforeAll(async () => {
    limited = await startHarness({ rateLimitPerMinute: '3' });
  });
  afterAll(() => limited?.close());

  it('gives up after the retries, naming the attempts; without retries at once', async () => {
    const m = await newMachine();
    await berthOk(m, ['auth', 'init', '-t', limited.token, '-u', limited.apiUrl]);
    await berthOk(m, ['registries', 'list', '--format', 'Name']);
    await berthOk(m, ['registries', 'list', '--format', 'Name']);
    const args = ['registries', 'list', '--format', 'Name', '--http-retry-max', '2', '--http-retry-wait-max', '0', '--trace'];
    const result = await berthIn(m, args);
    expect(result.code, describeCli(args, result)).toBe(1);
    const traces = result.stderr.split('\n').filter((l) => l.startsWith('trace:'));
    expect(traces.map((l) => l.replace(/^.* -> (\d+).*$/, '$1'))).toEqual(['429', '429', '429']);
    expect(traces[1]).toContain('(attempt 2)');
    expect(normalize(result.stderr.split('\n').find((l) => l.startsWith('Error:'))!)).toBe(
      'Error: GET http://127.0.0.1:<port>/v2/registries: 429 (request "<request-id>") API rate limit exceeded.; giving up after 3 attempt(s)',
    );
    const once = await berthIn(m, ['registries', 'list', '--http-retry-max', '0', '--trace']);
    expect(once.stderr.split('\n').filter((l) => l.startsWith('trace:'))).toHaveLength(1);
  });
});
