/**
 * `berth registries …`, doctl's multi-registry tree, in-process against a real Berth, for a
 * professional team with several registries; and the single-registry tree's answers when a
 * team has more than one (DigitalOcean's 412, which doctl turns into a list of names).
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goTime } from '../../src/cli/client/output/go-format.js';
import { fillUncompressedSizes } from '../../src/jobs/layer-sizes.js';
import { pushGzipImage, type PushedImage } from '../api/support.js';
import { REGISTRY_HOST, startHarness, type Harness } from '../harness.js';
import { berthIn, berthOk, expectGolden, fixedLayer, newMachine, normalize, UUID, type Machine } from './support.js';

let h: Harness;
let m: Machine;
let token: string;
let app1: PushedImage;
let app2: PushedImage;

async function apiJson<T>(path: string): Promise<T> {
  const res = await h.api(path, { token });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

beforeAll(async () => {
  h = await startHarness({ rateLimitPerMinute: '100000', rateLimitPerHour: '1000000' });
  token = await h.newTeam('multi-team', 'professional');
  m = await newMachine();
  await berthOk(m, ['auth', 'init', '-t', token, '-u', h.apiUrl]);
});
afterAll(() => h?.close());

describe('berth registries (multi-registry tree)', { timeout: 60_000 }, () => {
  it('create (alias c), list (ls) and get several at once', async () => {
    expectGolden('registries-create', (await berthOk(m, ['registries', 'create', 'alpha', '--subscription-tier', 'professional'])).stdout);
    await berthOk(m, ['regs', 'c', 'beta', '--subscription-tier', 'professional', '--region', 'ams3']);
    const list = await berthOk(m, ['registries', 'list']);
    expectGolden('registries-list', list.stdout);
    expect((await berthOk(m, ['rs', 'ls'])).stdout).toBe(list.stdout);
    const api = await apiJson<{ registries: unknown[] }>('/v2/registries');
    expect(JSON.parse((await berthOk(m, ['registries', 'list', '-o', 'json'])).stdout)).toEqual(api.registries);

    const get = await berthOk(m, ['registries', 'get', 'beta', 'alpha']);
    expectGolden('registries-get', get.stdout);
    const alpha = (await apiJson<{ registry: unknown }>('/v2/registries/alpha')).registry;
    expect(JSON.parse((await berthOk(m, ['registries', 'g', 'alpha', '-o', 'json'])).stdout)).toEqual([alpha]);

    // One missing: the others are shown, then the failure, and the exit status is 1.
    const partial = await berthIn(m, ['registries', 'get', 'alpha', 'nope']);
    expect(partial.code).toBe(1);
    expect(partial.stdout).toBe(`Name     Endpoint               Region slug\nalpha    ${REGISTRY_HOST}/alpha    nyc3\n`);
    expect(normalize(partial.stderr)).toBe(
      'Error: failed to fetch registry nope: GET http://127.0.0.1:<port>/v2/registries/nope: 404 (request "<request-id>") registry "nope" not found\n',
    );
    expect((await berthIn(m, ['registries', 'get'])).stderr).toBe('Error: (registries.get) command is missing required arguments\n');
    const taken = await berthIn(m, ['registries', 'create', 'alpha', '--subscription-tier', 'professional']);
    expect(taken.code).toBe(1);
    expect(normalize(taken.stderr)).toMatch(/^Error: POST http:\/\/127\.0\.0\.1:<port>\/v2\/registries: 409 \(request "<request-id>"\) .*alpha.*\n$/);
  });

  it('the single-registry tree with two registries: doctl\'s messages naming them', async () => {
    const get = await berthIn(m, ['registry', 'get']);
    expect(get.stderr).toBe("Error: multiple registries found. Please use 'berth registries get <registry-name>' instead.\nAvailable registries: alpha, beta\n");
    const tags = await berthIn(m, ['registry', 'repository', 'list-tags', 'app']);
    expect(tags.stderr).toBe('Error: multiple registries found. Please specify one with --registry <name>.\nAvailable registries: alpha, beta\n');
    const gc = await berthIn(m, ['registry', 'gc', 'list']);
    expect(gc.stderr).toBe('Error: multiple registries found. Please specify registry as an argument.\nAvailable registries: alpha, beta\n');
    expect((await berthOk(m, ['registry', 'gc', 'list', 'alpha'])).stdout).toBe('UUID    Registry Name    Status    Created At    Updated At    Blobs Deleted    Bytes Freed\n');
  });

  it('repository list-v2, list-tags, list-manifests take the registry as the first argument', async () => {
    const password = await h.dockerPassword('alpha', { readWrite: true, token });
    const jwt = await h.jwt(password, 'repository:alpha/app:pull,push');
    app1 = await pushGzipImage(h, jwt, 'alpha/app', '1.0', [fixedLayer('app-1', 20_000)], { nonce: 'app-1' });
    app2 = await pushGzipImage(h, jwt, 'alpha/app', '2.0', [fixedLayer('app-2', 30_000)], { nonce: 'app-2' });
    await fillUncompressedSizes(h.ctx);

    expectGolden('registries-repository-list-v2', normalize((await berthOk(m, ['registries', 'repository', 'list-v2', 'alpha'])).stdout));
    const v2 = await apiJson<{ repositories: unknown[] }>('/v2/registries/alpha/repositoriesV2');
    expect(JSON.parse((await berthOk(m, ['registries', 'repo', 'ls2', 'alpha', '-o', 'json'])).stdout)).toEqual(v2.repositories);
    expect((await berthOk(m, ['registries', 'repository', 'list-v2', 'beta'])).stdout).toBe('Name    Latest Manifest    Latest Tag    Tag Count    Manifest Count    Updated At\n');

    const tags = await berthOk(m, ['registries', 'repository', 'list-tags', 'alpha', 'app']);
    expectGolden('registries-repository-list-tags', normalize(tags.stdout));
    const tagsApi = await apiJson<{ tags: { updated_at: string }[] }>('/v2/registries/alpha/repositories/app/tags');
    expect(JSON.parse((await berthOk(m, ['registries', 'r', 'lt', 'alpha', 'app', '-o', 'json'])).stdout)).toEqual(tagsApi.tags);
    expect(normalize((await berthOk(m, ['registries', 'r', 'lt', 'alpha', 'app', '--sort-by', 'size', '--format', 'Tag', '--no-header'])).stdout)).toBe('2.0\n1.0\n');

    const manifests = await berthOk(m, ['registries', 'repository', 'list-manifests', 'alpha', 'app']);
    expectGolden('registries-repository-list-manifests', normalize(manifests.stdout));
    const manifestsApi = await apiJson<{ manifests: { updated_at: string }[] }>('/v2/registries/alpha/repositories/app/digests');
    expect(manifests.stdout).toContain(goTime(manifestsApi.manifests[0]!.updated_at));
    expect(JSON.parse((await berthOk(m, ['registries', 'repository', 'lm', 'alpha', 'app', '-o', 'json'])).stdout)).toEqual(manifestsApi.manifests);

    // The hidden v1 listing calls the legacy path, as doctl's does.
    expectGolden('registries-repository-list', normalize((await berthOk(m, ['registries', 'repository', 'list', 'alpha'])).stdout));
    expect((await berthIn(m, ['registries', 'repository', 'list-tags', 'alpha'])).stderr).toBe(
      'Error: (registries.repository.list-tags) command is missing required arguments\n',
    );
  });

  it('delete-tag and delete-manifest need --force (doctl: no prompt on this tree) and say how many went', async () => {
    const refused = await berthIn(m, ['registries', 'repository', 'delete-tag', 'alpha', 'app', '1.0']);
    expect(refused).toMatchObject({ code: 1, stdout: '', stderr: 'Error: tag deletion is destructive and irreversible, please use --force flag to continue\n' });
    const tagNames = async () => (await apiJson<{ tags: { tag: string }[] }>('/v2/registries/alpha/repositories/app/tags')).tags.map((t) => t.tag).sort();
    expect(await tagNames()).toEqual(['1.0', '2.0']);
    expect((await berthOk(m, ['registries', 'repository', 'dt', 'alpha', 'app', '1.0', '--force'])).stdout).toBe('Successfully deleted 1 tag(s)\n');
    expect(await tagNames()).toEqual(['2.0']);

    const stop = await berthIn(m, ['registries', 'repository', 'delete-manifest', 'alpha', 'app', 'sha256:' + '0'.repeat(64), app1.manifest, '-f']);
    expect(stop.code).toBe(1);
    expect(normalize(stop.stderr)).toMatch(/^Error: DELETE http:\/\/127\.0\.0\.1:<port>\/v2\/registries\/alpha\/repositories\/app\/digests\/sha256%3A0{64}: 404 \(request "<request-id>"\) .+\n$/);
    const refusedManifest = await berthIn(m, ['registries', 'repository', 'dm', 'alpha', 'app', app1.manifest]);
    expect(refusedManifest.stderr).toBe('Error: manifest deletion is destructive and irreversible, please use --force flag to continue\n');
    const digests = async () => (await apiJson<{ manifests: { digest: string }[] }>('/v2/registries/alpha/repositories/app/digests')).manifests.map((d) => d.digest).sort();
    expect(await digests()).toEqual([app1.manifest, app2.manifest].sort());
    expect((await berthOk(m, ['registries', 'repository', 'delete-manifest', 'alpha', 'app', app1.manifest, '--force'])).stdout).toBe('Successfully deleted 1 manifest(s)\n');
    expect(await digests()).toEqual([app2.manifest]);
  });

  it('garbage-collection start, get-active, list and cancel (which prints the run on this tree)', async () => {
    expect((await berthIn(m, ['registries', 'gc', 'start'])).stderr).toBe('Error: (registries.garbage-collection.start) command is missing required arguments\n');
    const start = await berthOk(m, ['registries', 'garbage-collection', 'start', 'alpha', '--exclude-unreferenced-blobs', '--force']);
    expectGolden('registries-gc-start', normalize(start.stdout));
    const uuid = start.stdout.match(UUID)![0];
    const active = (await apiJson<{ garbage_collection: { uuid: string; type: string } }>('/v2/registries/alpha/garbage-collection')).garbage_collection;
    // On this tree doctl maps the odd combination to "untagged manifests and unreferenced blobs".
    expect(active).toMatchObject({ uuid, type: 'untagged manifests and unreferenced blobs' });
    expect(normalize((await berthOk(m, ['registries', 'gc', 'ga', 'alpha'])).stdout)).toBe(normalize(start.stdout));
    expect(JSON.parse((await berthOk(m, ['registries', 'gc', 'get-active', 'alpha', '-o', 'json'])).stdout)).toEqual([active]);

    const cancel = await berthOk(m, ['registries', 'gc', 'cancel', 'alpha', uuid]);
    expectGolden('registries-gc-cancel', normalize(cancel.stdout));
    expect((await berthIn(m, ['registries', 'gc', 'cancel', 'alpha'])).stderr).toBe('Error: (registries.garbage-collection.cancel) command is missing required arguments\n');
    const list = await berthOk(m, ['registries', 'gc', 'list', 'alpha']);
    expectGolden('registries-gc-list', normalize(list.stdout));
    const listApi = await apiJson<{ garbage_collections: unknown[] }>('/v2/registries/alpha/garbage-collections');
    expect(JSON.parse((await berthOk(m, ['registries', 'gc', 'l', 'alpha', '-o', 'json'])).stdout)).toEqual(listApi.garbage_collections);
    const none = await berthIn(m, ['registries', 'gc', 'get-active', 'alpha']);
    expect(none.code).toBe(1);
    expect(normalize(none.stderr)).toMatch(/^Error: GET http:\/\/127\.0\.0\.1:<port>\/v2\/registries\/alpha\/garbage-collection: 404 \(request "<request-id>"\) .+\n$/);
  });

  it('options, subscription and usage (a row per registry and the total)', async () => {
    expectGolden('registries-options-subscription-tiers', (await berthOk(m, ['registries', 'options', 'subscription-tiers'])).stdout);
    const options = (await apiJson<{ options: { available_regions: string[] } }>('/v2/registries/options')).options;
    expect(JSON.parse((await berthOk(m, ['registries', 'o', 'regions', '-o', 'json'])).stdout)).toEqual(options.available_regions);
    expectGolden('registries-subscription-get', normalize((await berthOk(m, ['registries', 'subscription', 'get'])).stdout));
    await h.ctx.usage.flush(true);
    const usage = await berthOk(m, ['registries', 'usage']);
    expectGolden('registries-usage', normalize(usage.stdout));
    const list = await apiJson<{ total_storage_usage_bytes: number }>('/v2/registries');
    expect((JSON.parse((await berthOk(m, ['registries', 'usage', '-o', 'json'])).stdout) as { total_storage_usage_bytes: number }).total_storage_usage_bytes).toBe(
      list.total_storage_usage_bytes,
    );
  });

  it('docker-config, kubernetes-manifest, login and logout for a named registry', async () => {
    const config = JSON.parse((await berthOk(m, ['registries', 'docker-config', 'alpha', '--read-write'])).stdout) as { auths: Record<string, { auth: string }> };
    const secret = Buffer.from(config.auths[REGISTRY_HOST]!.auth, 'base64').toString().split(':')[1]!;
    expect(await h.ctx.credentials.authenticate(secret)).toMatchObject({ registryName: 'alpha', expiresAt: null });
    const missing = await berthIn(m, ['registries', 'docker-config', 'nope']);
    expect(missing.code).toBe(1);
    expect(normalize(missing.stderr)).toMatch(/^Error: GET http:\/\/127\.0\.0\.1:<port>\/v2\/registries\/nope\/docker-credentials\?read_write=false: 404 /);

    const k8s = await berthOk(m, ['registries', 'k8s', 'alpha']);
    expectGolden('registries-kubernetes-manifest', k8s.stdout.replace(/\.dockerconfigjson: \S+/, '.dockerconfigjson: <base64>'));

    const login = await berthOk(m, ['registries', 'login', 'alpha']);
    expect(login.stdout).toBe(`Logging Docker in to ${REGISTRY_HOST}/alpha\n`);
    const auth = (JSON.parse(await readFile(m.containersAuth, 'utf8')) as { auths: Record<string, { auth: string }> }).auths[REGISTRY_HOST]!.auth;
    const password = Buffer.from(auth, 'base64').toString().split(':')[1]!;
    expect(await h.ctx.credentials.authenticate(password)).toMatchObject({ registryName: 'alpha' });
    const noRegistry = await berthIn(m, ['registries', 'login', 'nope']);
    expect(noRegistry.code).toBe(1);
    expect(normalize(noRegistry.stderr)).toMatch(/^Error: GET http:\/\/127\.0\.0\.1:<port>\/v2\/registries\/nope: 404 /);

    expect((await berthOk(m, ['registries', 'logout', 'alpha'])).stdout).toBe(`Removing login credentials for ${REGISTRY_HOST}/alpha\n`);
    expect(await h.ctx.credentials.authenticate(password)).toBeUndefined();
    expect(JSON.parse(await readFile(m.dockerConfig, 'utf8'))).toEqual({ auths: {} });
  });

  it('with -o json: create and cancel print the API\'s objects; docker-config, kubernetes-manifest and login print as in text (doctl ignores -o there)', async () => {
    const created = JSON.parse((await berthOk(m, ['registries', 'create', 'gamma', '--subscription-tier', 'professional', '-o', 'json'])).stdout) as unknown[];
    expect(created).toEqual([(await apiJson<{ registry: unknown }>('/v2/registries/gamma')).registry]);
    const run = (JSON.parse((await berthOk(m, ['registries', 'gc', 'start', 'gamma', '-f', '-o', 'json'])).stdout) as { uuid: string }[])[0]!;
    const cancelled = JSON.parse((await berthOk(m, ['registries', 'gc', 'cancel', 'gamma', run.uuid, '-o', 'json'])).stdout) as unknown[];
    const runs = await apiJson<{ garbage_collections: { uuid: string }[] }>('/v2/registries/gamma/garbage-collections');
    expect(cancelled).toEqual(runs.garbage_collections.filter((r) => r.uuid === run.uuid));
    expect((await berthOk(m, ['registries', 'subscription', 'update', '--subscription-tier', 'professional', '-o', 'json'])).stdout).toBe(
      `${JSON.stringify([(await apiJson<{ subscription: unknown }>('/v2/registries/subscription')).subscription], null, 2)}\n`,
    );

    const text = JSON.parse((await berthOk(m, ['registries', 'docker-config', 'gamma'])).stdout) as { auths: Record<string, unknown> };
    const json = JSON.parse((await berthOk(m, ['registries', 'docker-config', 'gamma', '-o', 'json'])).stdout) as { auths: Record<string, unknown> };
    expect(Object.keys(json.auths)).toEqual(Object.keys(text.auths));
    const k8s = (await berthOk(m, ['registries', 'k8s', 'gamma', '-o', 'json'])).stdout;
    expect(k8s.replace(/\.dockerconfigjson: \S+/, '.dockerconfigjson: <base64>')).toBe(
      (await berthOk(m, ['registries', 'k8s', 'gamma'])).stdout.replace(/\.dockerconfigjson: \S+/, '.dockerconfigjson: <base64>'),
    );
    expect((await berthOk(m, ['registries', 'login', 'gamma', '-o', 'json'])).stdout).toBe(`Logging Docker in to ${REGISTRY_HOST}/gamma\n`);
    expect((await berthOk(m, ['registries', 'logout', 'gamma', '-o', 'json'])).stdout).toBe(`Removing login credentials for ${REGISTRY_HOST}/gamma\n`);
    expect((await berthOk(m, ['registries', 'delete', 'gamma', '-f', '-o', 'json'])).stdout).toBe('');
  });

  it('delete asks ("delete this registry"); --force skips the question', async () => {
    const declined = await berthIn(m, ['registries', 'delete', 'beta', '--interactive'], { input: 'no\n' });
    expect(declined.stderr).toBe('Warning: Are you sure you want to delete this registry (y/N) ? \nError: operation aborted\n');
    await berthOk(m, ['registries', 'del', 'beta', '--interactive'], { input: 'y\n' });
    const missing = await berthIn(m, ['registries', 'rm', 'beta', '-f']);
    expect(missing.code).toBe(1);
    expect(normalize(missing.stderr)).toMatch(/^Error: DELETE http:\/\/127\.0\.0\.1:<port>\/v2\/registries\/beta: 404 /);
    expect((await apiJson<{ registries: { name: string }[] }>('/v2/registries')).registries.map((r) => r.name)).toEqual(['alpha']);
  });
});
