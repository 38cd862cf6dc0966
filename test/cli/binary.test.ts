/**
 * The real `berth` binary against a real server (child processes): doctl-style one-line errors
 * with a non-zero exit and never a stack trace, for unknown flags and commands, a missing
 * context, an expired token, a registry that does not exist and a refused deletion (each leaving
 * what is stored as it was); and `garbage-collection start --wait` following a real run of the
 * server's worker to its end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushImage, type Harness } from '../harness.js';
import { registryToken } from '../support/registry.js';
import { run, type RunResult } from '../support/exec.js';
import { MAIN_JS, REPO_ROOT, startServer, type TestServer } from '../support/server.js';
import { berthBinary, newMachine, normalize, UUID, type Machine } from './support.js';

let server: TestServer;
let m: Machine;

beforeAll(async () => {
  server = await startServer({ args: ['--gc-grace', '1s'] });
  m = await newMachine();
  await berthBinary(m, ['auth', 'init', '-t', server.token, '-u', server.apiUrl]);
  await server.createRegistry('kept', 'basic');
});
afterAll(async () => {
  await server?.stop();
});

const STACK = /\n\s+at /;

function oneLineError(result: RunResult, pattern: RegExp): void {
  expect(result.code, `${result.command}\n${result.stderr}`).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr).not.toMatch(STACK);
  expect(normalize(result.stderr)).toMatch(pattern);
}

async function registries(): Promise<string[]> {
  const body = (await (await server.api('/v2/registries')).json()) as { registries: { name: string }[] };
  return body.registries.map((r) => r.name);
}

describe('errors from the binary', { timeout: 60_000 }, () => {
  it('an unknown flag or command: a short error and a hint to --help, not the help', async () => {
    const flag = await berthBinary(m, ['registry', 'get', '--bogus']);
    oneLineError(flag, /^Error: unknown flag: --bogus\nRun 'berth registry get --help' for usage\.\n$/);
    const short = await berthBinary(m, ['registries', 'list', '-z']);
    oneLineError(short, /^Error: unknown shorthand flag: 'z' in -z\nRun 'berth registries list --help' for usage\.\n$/);
    const command = await berthBinary(m, ['registry', 'repository', 'list-tag', 'x']);
    oneLineError(command, /^Error: unknown command "list-tag" for "berth registry repository"\n\nDid you mean this\?\n\tlist-tags\n\nRun 'berth registry repository --help' for usage\.\n$/);
    const value = await berthBinary(m, ['registries', 'login', 'kept', '--expiry-seconds']);
    oneLineError(value, /^Error: flag needs an argument: --expiry-seconds\nRun 'berth registries login --help' for usage\.\n$/);
    const boolean = await berthBinary(m, ['registry', 'delete', '--force=perhaps']);
    oneLineError(boolean, /^Error: invalid argument "perhaps" for "--force" flag: not a boolean \(true or false\)\n$/);
    expect(await registries()).toEqual(['kept']);
    // The server's own commands keep their help after an error.
    const serve = await berthBinary(m, ['serve', '--bogus']);
    expect(serve.code).not.toBe(0);
    expect(serve.stderr).toContain("error: unknown option '--bogus'");
    expect(serve.stderr).toContain('Usage: berth serve');
  });

  it('a missing context, an expired token and a registry that does not exist', async () => {
    oneLineError(await berthBinary(m, ['registry', 'get', '--context', 'prod']), /^Error: context "prod" does not exist in .+config\.yaml; create it with 'berth auth init --context prod'\n$/);

    const created = await run(process.execPath, [MAIN_JS, 'admin', 'token', 'create', '--team', 'default', '--expires-in', '1s', '--data-dir', server.dataDir, '--database-url', server.databaseUrl], {
      cwd: REPO_ROOT,
    });
    const expiring = created.stdout.trim().split('\n').at(-1)!;
    expect(expiring).toMatch(/^dop_v1_/);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    oneLineError(
      await berthBinary(m, ['registries', 'list', '-t', expiring]),
      /^Error: GET http:\/\/127\.0\.0\.1:<port>\/v2\/registries: 401 \(request "<request-id>"\) Unable to authenticate you: the token is invalid, expired or revoked\.\n$/,
    );

    oneLineError(
      await berthBinary(m, ['registries', 'repository', 'list-tags', 'ghost', 'app']),
      /^Error: GET http:\/\/127\.0\.0\.1:<port>\/v2\/registries\/ghost\/repositories\/app\/tags\?page=1&per_page=200: 404 \(request "<request-id>"\) registry "ghost" not found\n$/,
    );
    const json = await berthBinary(m, ['registries', 'get', 'ghost', '-o', 'json']);
    expect(json.code).toBe(1);
    expect(json.stderr).toBe('');
    expect(normalize(JSON.parse(json.stdout).errors[0].detail)).toBe(
      'failed to fetch registry ghost: GET http://127.0.0.1:<port>/v2/registries/ghost: 404 (request "<request-id>") registry "ghost" not found',
    );
  });

  it('a refused deletion: without a terminal or --force nothing is deleted', async () => {
    const refused = await berthBinary(m, ['registry', 'delete']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe('Warning: Requires confirmation. Use the `--force` flag to continue without confirmation.\nError: operation aborted\n');
    const piped = await berthBinary(m, ['registries', 'delete', 'kept', '--interactive'], { input: 'nope\n' });
    expect(piped.code).toBe(1);
    expect(piped.stderr).toBe('Warning: Are you sure you want to delete this registry (y/N) ? \nError: operation aborted\n');
    expect(await registries()).toEqual(['kept']);
    // The API refuses: a tag that is not there.
    oneLineError(
      await berthBinary(m, ['registries', 'repository', 'delete-tag', 'kept', 'app', 'v9', '--force']),
      /^Error: DELETE http:\/\/127\.0\.0\.1:<port>\/v2\/registries\/kept\/repositories\/app\/tags\/v9: 404 \(request "<request-id>"\) .+\n$/,
    );
  });
});

describe('garbage-collection start --wait', { timeout: 90_000 }, () => {
  it('shows the run’s progress until it ends, then what it freed', async () => {
    const credentials = server.credentialsOf(await server.dockerCredentials('kept', { readWrite: true }));
    const jwt = await registryToken(server, credentials, 'repository:kept/app:pull,push');
    // pushImage only needs the registry listener: this server's, with a bearer JWT.
    const registryOnly = {
      registry: (path: string, init: RequestInit & { auth?: string } = {}) => {
        const headers = new Headers(init.headers);
        if (init.auth) headers.set('authorization', `Bearer ${init.auth}`);
        return fetch(`${server.registryUrl}${path}`, { ...init, headers, duplex: 'half' } as RequestInit);
      },
    };
    const pushed = await pushImage(registryOnly as unknown as Harness, jwt, 'kept/app', 'old');
    await pushImage(registryOnly as unknown as Harness, jwt, 'kept/app', 'new');
    const deleted = await berthBinary(m, ['registries', 'repository', 'delete-tag', 'kept', 'app', 'old', '--force']);
    expect(deleted.stdout).toBe('Successfully deleted 1 tag(s)\n');
    // Past the grace period, the untagged manifest and its blobs are garbage.
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    const result = await berthBinary(m, ['registry', 'garbage-collection', 'start', '--include-untagged-manifests', '--force', '--wait']);
    expect(result.code, result.stderr).toBe(0);
    const uuid = result.stdout.match(UUID)![0];
    const progress = result.stderr.trim().split('\n');
    expect(progress[0]).toBe(`Garbage collection ${uuid} on kept: requested`);
    expect(progress.at(-2)).toBe(`Garbage collection ${uuid} on kept: succeeded`);
    const runs = (await (await server.api('/v2/registries/kept/garbage-collections')).json()) as {
      garbage_collections: { uuid: string; status: string; blobs_deleted: number; freed_bytes: number }[];
    };
    const run = runs.garbage_collections.find((r) => r.uuid === uuid)!;
    expect(run.status).toBe('succeeded');
    // The manifest, its config and its layer: three blobs, their exact bytes.
    const manifest = JSON.parse(pushed.bytes.toString('utf8')) as { config: { size: number }; layers: { size: number }[] };
    expect(run.blobs_deleted).toBe(3);
    expect(run.freed_bytes).toBe(pushed.bytes.length + manifest.config.size + manifest.layers[0]!.size);
    expect(result.stdout).toMatch(new RegExp(`kept\\s+succeeded\\s+.+\\s+${run.blobs_deleted}\\s+${run.freed_bytes}\\n$`));
    expect(progress.at(-1)).toMatch(new RegExp(`^Freed [\\d.]+ k?B \\(${run.freed_bytes} bytes\\) by deleting 3 blob\\(s\\) from kept$`));
    for (const line of progress.slice(1, -2)) expect(line).toMatch(new RegExp(`^Garbage collection ${uuid} on kept: (waiting for write JWTs to expire|scanning manifests|deleting unreferenced blobs)$`));
  });
});
