/**
 * `berth registry …`, doctl's single-registry tree, run in-process against a real Berth
 * (test/harness.ts) for a team with one registry: every command in both output modes, text
 * tables against golden files, JSON against what the API itself answers, and the times, uuids
 * and request ids the goldens leave out checked on their own.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillUncompressedSizes } from '../../src/jobs/layer-sizes.js';
import { goTime } from '../../src/cli/client/output/go-format.js';
import { pushGzipImage, type PushedImage } from '../api/support.js';
import { REGISTRY_HOST, startHarness, type Harness } from '../harness.js';
import { berthIn, berthOk, describeCli, expectGolden, fixedLayer, GO_TIME, newMachine, normalize, UUID, type Machine } from './support.js';

let h: Harness;
let m: Machine;
let token: string;
const REG = 'single-reg';
let web1: PushedImage;
let web2: PushedImage;
let api1: PushedImage;
let untagged: PushedImage;
let started: number;

async function apiJson<T>(path: string, asToken = token): Promise<T> {
  const res = await h.api(path, { token: asToken });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

beforeAll(async () => {
  h = await startHarness({ rateLimitPerMinute: '100000', rateLimitPerHour: '1000000' });
  token = await h.newTeam('single-team', 'basic');
  m = await newMachine();
  started = Date.now();
});
afterAll(() => h?.close());

describe('berth registry (single-registry tree)', { timeout: 60_000 }, () => {
  it('auth init stores the context in $XDG_CONFIG_HOME/berth/config.yaml with mode 0600', async () => {
    const result = await berthOk(m, ['auth', 'init', '--access-token', token, '--api-url', h.apiUrl]);
    expect(result.stdout).toBe('Using token for context default\n\nValidating token... ✔\n\n');
    const info = await stat(m.configFile);
    expect(info.mode & 0o777).toBe(0o600);
    const text = await readFile(m.configFile, 'utf8');
    expect(text).toContain(`api-url: ${h.apiUrl}`);
    expect(text).toContain(`access-token: ${token}`);
  });

  it('get before any registry exists: one line with the API message and request id, exit 1', async () => {
    const result = await berthIn(m, ['registry', 'get']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')).toHaveLength(2);
    expect(result.stderr).toMatch(/^Error: GET http:\/\/127\.0\.0\.1:\d+\/v2\/registry: 404 \(request "[^"]{8,}"\) .+\n$/);
    const json = await berthIn(m, ['registry', 'get', '-o', 'json']);
    expect(json.code).toBe(1);
    const detail = (JSON.parse(json.stdout) as { errors: { detail: string }[] }).errors[0]!.detail;
    expect(detail).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/v2\/registry: 404 \(request "[^"]{8,}"\) /);
  });

  it('create needs --subscription-tier given explicitly (cobra required flag, as doctl), then prints the registry', async () => {
    const missing = await berthIn(m, ['registry', 'create', REG]);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toBe('Error: required flag(s) "subscription-tier" not set\n');
    const noName = await berthIn(m, ['registry', 'create', '--subscription-tier', 'basic']);
    expect(noName.stderr).toBe('Error: (registry.create) command is missing required arguments\n');
    const twoNames = await berthIn(m, ['registry', 'create', 'a', 'b', '--subscription-tier', 'basic']);
    expect(twoNames.stderr).toBe('Error: (registry.create) command contains unsupported arguments\n');
    expect((await apiJson<{ registries: unknown[] }>('/v2/registries')).registries).toHaveLength(0);

    const created = await berthOk(m, ['registry', 'create', REG, '--subscription-tier', 'basic', '--region', 'fra1']);
    expectGolden('registry-create', created.stdout);
    expect(created.stdout).toContain(`${REGISTRY_HOST}/${REG}`);
  });

  it('get (alias g), as text, with --format/--no-header, and as JSON equal to GET /v2/registry', async () => {
    const text = await berthOk(m, ['registry', 'get']);
    expectGolden('registry-get', text.stdout);
    expect((await berthOk(m, ['registry', 'g'])).stdout).toBe(text.stdout);
    expect((await berthOk(m, ['registry', 'get', '--format', 'Region, Name', '--no-header'])).stdout).toBe('fra1    single-reg\n');
    const json = JSON.parse((await berthOk(m, ['registry', 'get', '-o', 'json'])).stdout) as unknown[];
    expect(json).toEqual([(await apiJson<{ registry: unknown }>('/v2/registry')).registry]);
    const bad = await berthIn(m, ['registry', 'get', '--format', 'Nmae']);
    expect(bad.stderr).toBe('Error: unknown column "Nmae"; possible values: Name, Endpoint, Region\n');
  });

  it('repositories, tags and manifests after pushes', async () => {
    const password = await h.dockerPassword(REG, { readWrite: true, token });
    const jwt = await h.jwt(password, `repository:${REG}/shop/web:pull,push`, `repository:${REG}/shop/api:pull,push`);
    web1 = await pushGzipImage(h, jwt, `${REG}/shop/web`, 'v1', [fixedLayer('web-1', 40_000)], { nonce: 'web-1' });
    web2 = await pushGzipImage(h, jwt, `${REG}/shop/web`, 'v2', [fixedLayer('web-1', 40_000), fixedLayer('web-2', 90_000)], { nonce: 'web-2' });
    api1 = await pushGzipImage(h, jwt, `${REG}/shop/api`, 'latest', [fixedLayer('api-1', 10_000)], { nonce: 'api-1' });
    untagged = await pushGzipImage(h, jwt, `${REG}/shop/api`, null, [fixedLayer('api-2', 5_000)], { nonce: 'api-2' });
    await fillUncompressedSizes(h.ctx);

    const v2 = await berthOk(m, ['registry', 'repository', 'list-v2']);
    expectGolden('registry-repository-list-v2', normalize(v2.stdout));
    expect((await berthOk(m, ['registry', 'repo', 'ls2', '--registry', REG])).stdout).toBe(v2.stdout);
    expectGolden('registry-repository-list-v2-format', (await berthOk(m, ['reg', 'r', 'ls2', '--format', 'Name,TagCount,ManifestCount', '--no-header'])).stdout);
    const v2Api = await apiJson<{ repositories: { latest_manifest?: { updated_at: string } }[] }>(`/v2/registry/${REG}/repositoriesV2`);
    expect(JSON.parse((await berthOk(m, ['registry', 'repository', 'list-v2', '-o', 'json'])).stdout)).toEqual(v2Api.repositories);
    // The times the golden file leaves out are the API's, in Go's format.
    const times = v2.stdout.match(GO_TIME)!;
    expect(times).toEqual(v2Api.repositories.map((r) => goTime(r.latest_manifest!.updated_at)));
    for (const t of times) expect(Date.parse(t.replace(' +0000 UTC', 'Z').replace(' ', 'T'))).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000);

    const tags = await berthOk(m, ['registry', 'repository', 'list-tags', 'shop/web']);
    expectGolden('registry-repository-list-tags', normalize(tags.stdout));
    expect(tags.stdout).toContain(web1.manifest);
    expect(tags.stdout).toContain(web2.manifest);
    const tagsApi = await apiJson<{ tags: { updated_at: string }[] }>(`/v2/registry/${REG}/repositories/${encodeURIComponent('shop/web')}/tags`);
    expect(JSON.parse((await berthOk(m, ['registry', 'repository', 'lt', 'shop/web', '-o', 'json'])).stdout)).toEqual(tagsApi.tags);
    expect(tags.stdout.match(GO_TIME)).toEqual(tagsApi.tags.map((t) => goTime(t.updated_at)));

    expectGolden('registry-repository-list-tags-by-size', normalize((await berthOk(m, ['registry', 'repository', 'list-tags', 'shop/web', '--sort-by', 'size'])).stdout));
    expectGolden('registry-repository-list-tags-by-name', normalize((await berthOk(m, ['registry', 'repository', 'list-tags', 'shop/web', '--sort-by', 'name'])).stdout));
    const byTime = await berthOk(m, ['registry', 'repository', 'list-tags', 'shop/web', '--sort-by', 'time', '--format', 'Tag', '--no-header']);
    const sortedByTime = [...tagsApi.tags].sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at));
    expect(byTime.stdout.trim().split('\n')).toHaveLength(sortedByTime.length);
    const badSort = await berthIn(m, ['registry', 'repository', 'list-tags', 'shop/web', '--sort-by', 'age']);
    expect(badSort.stderr).toBe('Error: invalid argument "age" for "--sort-by" flag: use time, size or name\n');

    const manifests = await berthOk(m, ['registry', 'repository', 'list-manifests', 'shop/api']);
    expectGolden('registry-repository-list-manifests', normalize(manifests.stdout));
    expect(manifests.stdout).toContain(untagged.manifest);
    const manifestsApi = await apiJson<{ manifests: unknown[] }>(`/v2/registry/${REG}/repositories/${encodeURIComponent('shop/api')}/digests`);
    expect(JSON.parse((await berthOk(m, ['registry', 'repository', 'lm', 'shop/api', '-o', 'json'])).stdout)).toEqual(manifestsApi.manifests);

    // doctl's hidden v1 listing.
    const v1 = await berthOk(m, ['registry', 'repository', 'list']);
    expectGolden('registry-repository-list', normalize(v1.stdout));
    const v1Api = await apiJson<{ repositories: unknown[] }>(`/v2/registry/${REG}/repositories`);
    expect(JSON.parse((await berthOk(m, ['registry', 'repository', 'ls', '-o', 'json'])).stdout)).toEqual(v1Api.repositories);

    const missing = await berthIn(m, ['registry', 'repository', 'list-tags']);
    expect(missing.stderr).toBe('Error: (registry.repository.list-tags) command is missing required arguments\n');
    const unknownRepo = await berthIn(m, ['registry', 'repository', 'list-tags', 'shop/nope']);
    expect(unknownRepo.code).toBe(1);
    expect(normalize(unknownRepo.stderr)).toMatch(/^Error: GET http:\/\/127\.0\.0\.1:<port>\/v2\/registry\/single-reg\/repositories\/shop%2Fnope\/tags\?page=1&per_page=200: 404 \(request "<request-id>"\) .+\n$/);
  });

  it('delete-tag and delete-manifest take several at once; a failure is reported and the others still go', async () => {
    const refused = await berthIn(m, ['registry', 'repository', 'delete-tag', 'shop/web', 'v1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('Warning: Requires confirmation. Use the `--force` flag to continue without confirmation.\nError: operation aborted\n');
    const declined = await berthIn(m, ['registry', 'repository', 'delete-tag', 'shop/web', 'v1', '--interactive'], { input: 'n\n' });
    expect(declined.stderr).toBe('Warning: Are you sure you want to delete 1 repository tag(s) (y/N) ? \nError: operation aborted\n');
    const tagsOf = async () => (await apiJson<{ tags: { tag: string }[] }>(`/v2/registry/${REG}/repositories/${encodeURIComponent('shop/web')}/tags`)).tags.map((t) => t.tag).sort();
    expect(await tagsOf()).toEqual(['v1', 'v2']);

    const partial = await berthIn(m, ['registry', 'repository', 'dt', 'shop/web', 'v1', 'nope', '--force']);
    expect(partial.code, describeCli(['dt'], partial)).toBe(1);
    expect(normalize(partial.stderr)).toMatch(
      /^Error: failed to delete all repository tags: \nDELETE http:\/\/127\.0\.0\.1:<port>\/v2\/registry\/single-reg\/repositories\/shop%2Fweb\/tags\/nope: 404 \(request "<request-id>"\) .+\n$/,
    );
    expect(await tagsOf()).toEqual(['v2']);

    const yes = await berthOk(m, ['registry', 'repository', 'delete-manifest', 'shop/api', untagged.manifest, '--interactive'], { input: 'yes\n' });
    expect(yes.stderr).toBe('Warning: Are you sure you want to delete 1 repository manifest(s) by digest (including associated tags) (y/N) ? \n');
    const digests = (await apiJson<{ manifests: { digest: string }[] }>(`/v2/registry/${REG}/repositories/${encodeURIComponent('shop/api')}/digests`)).manifests.map((d) => d.digest);
    expect(digests).toEqual([api1.manifest]);
  });

  it('garbage-collection start, get-active, list and cancel, with doctl flags and the mapping to types', async () => {
    const incompatible = await berthIn(m, ['registry', 'gc', 'start', '--exclude-unreferenced-blobs', '--force']);
    expect(incompatible.stderr).toBe('Error: incompatible combination of include-untagged-manifests and exclude-unreferenced-blobs flags\n');
    const unconfirmed = await berthIn(m, ['registry', 'gc', 'start']);
    expect(unconfirmed.stderr).toBe('Warning: Requires confirmation. Use the `--force` flag to continue without confirmation.\nError: operation aborted\n');
    expect((await apiJson<{ garbage_collections: unknown[] }>(`/v2/registry/${REG}/garbage-collections`)).garbage_collections).toHaveLength(0);

    const start = await berthOk(m, ['registry', 'garbage-collection', 'start', '--include-untagged-manifests', '--interactive'], { input: 'y\n' });
    expect(start.stderr).toBe(`Warning: Are you sure you want to run garbage collection on registry ${REG} -- what it deletes cannot be recovered (y/N) ? \n`);
    expectGolden('registry-gc-start', normalize(start.stdout));
    const uuid = start.stdout.match(UUID)![0];
    const active = await apiJson<{ garbage_collection: { uuid: string; type: string; created_at: string } }>(`/v2/registry/${REG}/garbage-collection`);
    expect(active.garbage_collection).toMatchObject({ uuid, type: 'untagged manifests and unreferenced blobs' });
    expect(start.stdout).toContain(goTime(active.garbage_collection.created_at));

    const getActive = await berthOk(m, ['registry', 'gc', 'get-active', REG]);
    expectGolden('registry-gc-get-active', normalize(getActive.stdout));
    expect(getActive.stdout).toContain(uuid);
    expect(JSON.parse((await berthOk(m, ['registry', 'gc', 'ga', '-o', 'json'])).stdout)).toEqual([active.garbage_collection]);

    const again = await berthIn(m, ['registry', 'gc', 'start', '--force']);
    expect(again.code).toBe(1);
    expect(normalize(again.stderr)).toMatch(/^Error: POST http:\/\/127\.0\.0\.1:<port>\/v2\/registry\/single-reg\/garbage-collection: 409 \(request "<request-id>"\) .+\n$/);

    const cancel = await berthOk(m, ['registry', 'gc', 'cancel', uuid]);
    expect(cancel.stdout).toBe('');
    const list = await berthOk(m, ['registry', 'gc', 'list']);
    expectGolden('registry-gc-list', normalize(list.stdout));
    const listApi = await apiJson<{ garbage_collections: { status: string }[] }>(`/v2/registry/${REG}/garbage-collections`);
    expect(listApi.garbage_collections.map((g) => g.status)).toEqual(['cancelled']);
    expect(JSON.parse((await berthOk(m, ['registry', 'gc', 'ls', '-o', 'json'])).stdout)).toEqual(listApi.garbage_collections);

    // Both flags: untagged manifests only.
    const both = await berthOk(m, ['registry', 'gc', 's', '--include-untagged-manifests', '--exclude-unreferenced-blobs', '-f', '-o', 'json']);
    const run = (JSON.parse(both.stdout) as { uuid: string; type: string }[])[0]!;
    expect(run.type).toBe('untagged manifests only');
    await berthOk(m, ['registry', 'gc', 'c', REG, run.uuid]);
    const unknown = await berthIn(m, ['registry', 'gc', 'cancel', REG, '00000000-0000-4000-8000-000000000000']);
    expect(unknown.code).toBe(1);
    expect(normalize(unknown.stderr)).toMatch(/^Error: PUT .+: 404 \(request "<request-id>"\) .+\n$/);
    const tooMany = await berthIn(m, ['registry', 'gc', 'cancel', 'a', 'b', 'c']);
    expect(tooMany.stderr).toBe('Error: (registry.garbage-collection.cancel) command contains unsupported arguments\n');
  });

  it('options subscription-tiers and available-regions', async () => {
    const options = (await apiJson<{ options: { subscription_tiers: unknown[]; available_regions: string[] } }>('/v2/registry/options')).options;
    const tiers = await berthOk(m, ['registry', 'options', 'subscription-tiers']);
    expectGolden('registry-options-subscription-tiers', tiers.stdout);
    expect((await berthOk(m, ['registry', 'opts', 'tiers'])).stdout).toBe(tiers.stdout);
    expect(JSON.parse((await berthOk(m, ['registry', 'o', 'tiers', '-o', 'json'])).stdout)).toEqual(options.subscription_tiers);
    expectGolden('registry-options-available-regions', (await berthOk(m, ['registry', 'options', 'available-regions'])).stdout);
    expect(JSON.parse((await berthOk(m, ['registry', 'options', 'regions', '-o', 'json'])).stdout)).toEqual(options.available_regions);
  });

  it('subscription get and update (Berth), and usage against the allowance', async () => {
    const get = await berthOk(m, ['registry', 'subscription', 'get']);
    expectGolden('registry-subscription-get', normalize(get.stdout));
    const api = (await apiJson<{ subscription: { created_at: string } }>('/v2/registry/subscription')).subscription;
    expect(JSON.parse((await berthOk(m, ['registry', 'subscription', 'g', '-o', 'json'])).stdout)).toEqual([api]);
    expect(get.stdout).toContain(goTime(api.created_at));

    const missing = await berthIn(m, ['registry', 'subscription', 'update']);
    expect(missing.stderr).toBe('Error: required flag(s) "subscription-tier" not set\n');
    const bad = await berthIn(m, ['registry', 'subscription', 'update', '--subscription-tier', 'gold']);
    expect(bad.code).toBe(1);
    expect(normalize(bad.stderr)).toMatch(/^Error: POST http:\/\/127\.0\.0\.1:<port>\/v2\/registry\/subscription: 422 \(request "<request-id>"\) tier_slug: must be one of starter, basic, professional\n$/);
    const updated = await berthOk(m, ['registry', 'subscription', 'update', '--subscription-tier', 'professional']);
    expectGolden('registry-subscription-update', normalize(updated.stdout));
    expect((await apiJson<{ subscription: { tier: { slug: string } } }>('/v2/registry/subscription')).subscription.tier.slug).toBe('professional');
    await berthOk(m, ['registry', 'subscription', 'u', '--subscription-tier', 'basic']);

    // Storage usage is computed in the background; bring it up to date now (what the job does).
    await h.ctx.usage.flush(true);
    expect((await apiJson<{ registry: { storage_usage_bytes: number } }>(`/v2/registries/${REG}`)).registry.storage_usage_bytes).toBeGreaterThan(0);
    const usage = await berthOk(m, ['registry', 'usage']);
    expectGolden('registry-usage', normalize(usage.stdout));
    const list = await apiJson<{ registries: unknown[]; total_storage_usage_bytes: number }>('/v2/registries');
    const subscription = (await apiJson<{ subscription: unknown }>('/v2/registry/subscription')).subscription;
    expect(JSON.parse((await berthOk(m, ['registry', 'usage', '-o', 'json'])).stdout)).toEqual({ subscription, registries: list.registries, total_storage_usage_bytes: list.total_storage_usage_bytes });
  });

  it('docker-config prints a read-only, non-expiring credential unless --read-write / --expiry-seconds say otherwise', async () => {
    const readOnly = JSON.parse((await berthOk(m, ['registry', 'docker-config'])).stdout) as { auths: Record<string, { auth: string }> };
    expect(Object.keys(readOnly.auths)).toEqual([REGISTRY_HOST]);
    const secretOf = (c: typeof readOnly) => Buffer.from(c.auths[REGISTRY_HOST]!.auth, 'base64').toString().split(':')[1]!;
    const ro = await h.ctx.credentials.authenticate(secretOf(readOnly));
    expect(ro).toMatchObject({ kind: 'registry', expiresAt: null });
    expect([...ro!.scopes]).toEqual(['registry:read']);

    const before = Date.now();
    const readWrite = JSON.parse((await berthOk(m, ['registry', 'config', '--read-write', '--expiry-seconds', '3600'])).stdout) as typeof readOnly;
    const rw = await h.ctx.credentials.authenticate(secretOf(readWrite));
    expect([...rw!.scopes]).toContain('registry:update');
    expect(rw!.expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(rw!.expiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000);
    const bad = await berthIn(m, ['registry', 'docker-config', '--expiry-seconds', 'soon']);
    expect(bad.stderr).toBe('Error: invalid argument "soon" for "--expiry-seconds" flag: not an integer\n');
  });

  it('kubernetes-manifest writes a dockerconfigjson Secret, as Kubernetes serialises it', async () => {
    const manifest = await berthOk(m, ['registry', 'kubernetes-manifest']);
    const data = /\.dockerconfigjson: (\S+)/.exec(manifest.stdout)![1]!;
    expectGolden('registry-kubernetes-manifest', manifest.stdout.replace(data, '<base64>'));
    const config = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { auths: Record<string, { auth: string }> };
    const secret = Buffer.from(config.auths[REGISTRY_HOST]!.auth, 'base64').toString().split(':')[1]!;
    expect([...(await h.ctx.credentials.authenticate(secret))!.scopes]).toEqual(['registry:read']);

    const named = await berthOk(m, ['registry', 'k8s', '--name', 'pull-secret', '--namespace', 'apps']);
    expectGolden('registry-kubernetes-manifest-named', named.stdout.replace(/\.dockerconfigjson: \S+/, '.dockerconfigjson: <base64>'));
  });

  it('login writes Docker config.json and the containers auth.json (keeping other entries); logout removes both and revokes', async () => {
    await mkdir(dirname(m.dockerConfig), { recursive: true });
    await writeFile(m.dockerConfig, JSON.stringify({ auths: { 'other.example': { auth: 'b3RoZXI6c2VjcmV0' } }, psFormat: 'table' }));
    const login = await berthOk(m, ['registry', 'login']);
    expect(login.stdout).toBe(`Logging Docker in to ${REGISTRY_HOST}\n`);
    expect(login.stderr).toBe(
      `Notice: Credentials for ${REGISTRY_HOST} written to ${m.dockerConfig} and ${m.containersAuth}\n` +
        'Notice: Login valid for 30 days. Use the --expiry-seconds flag to set a shorter expiration or --never-expire for no expiration.\n',
    );
    const docker = JSON.parse(await readFile(m.dockerConfig, 'utf8')) as { auths: Record<string, { auth: string }>; psFormat: string };
    const containers = JSON.parse(await readFile(m.containersAuth, 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(docker.psFormat).toBe('table');
    expect(docker.auths['other.example']).toEqual({ auth: 'b3RoZXI6c2VjcmV0' });
    expect(containers.auths[REGISTRY_HOST]).toEqual(docker.auths[REGISTRY_HOST]);
    for (const file of [m.dockerConfig, m.containersAuth]) expect((await stat(file)).mode & 0o777).toBe(0o600);
    const password = Buffer.from(docker.auths[REGISTRY_HOST]!.auth, 'base64').toString().split(':')[1]!;
    const principal = (await h.ctx.credentials.authenticate(password))!;
    expect([...principal.scopes]).toContain('registry:update');
    expect(principal.expiresAt! - Date.now()).toBeGreaterThan(2_592_000_000 - 60_000);
    expect(principal.expiresAt! - Date.now()).toBeLessThanOrEqual(2_592_000_000);

    const logout = await berthOk(m, ['registry', 'logout']);
    expect(logout.stdout).toBe(`Removing login credentials for ${REGISTRY_HOST}\n`);
    expect(await h.ctx.credentials.authenticate(password)).toBeUndefined();
    const after = JSON.parse(await readFile(m.dockerConfig, 'utf8')) as { auths: Record<string, unknown>; psFormat: string };
    expect(after).toEqual({ auths: { 'other.example': { auth: 'b3RoZXI6c2VjcmV0' } }, psFormat: 'table' });
    expect(JSON.parse(await readFile(m.containersAuth, 'utf8'))).toEqual({ auths: {} });

    // Logging out again finds nothing to remove or revoke.
    const again = await berthOk(m, ['registry', 'logout']);
    expect(again.stderr).toBe(`Notice: no credentials for ${REGISTRY_HOST} in ${m.dockerConfig} or ${m.containersAuth}\n`);
  });

  it('login flags: --read-only, --never-expire, --expiry-seconds, and the doctl error for both', async () => {
    const both = await berthIn(m, ['registry', 'login', '--never-expire', '--expiry-seconds', '60']);
    expect(both.stderr).toBe('Error: the generated registry API token cannot have both the expiry time and never-expire set\n');
    await berthOk(m, ['registry', 'login', '--read-only=true', '--never-expire']);
    const auth = (JSON.parse(await readFile(m.containersAuth, 'utf8')) as { auths: Record<string, { auth: string }> }).auths[REGISTRY_HOST]!.auth;
    const principal = (await h.ctx.credentials.authenticate(Buffer.from(auth, 'base64').toString().split(':')[1]!))!;
    expect(principal).toMatchObject({ expiresAt: null });
    expect([...principal.scopes]).toEqual(['registry:read']);
    const short = await berthOk(m, ['registry', 'login', '--expiry-seconds=120']);
    expect(short.stderr).not.toContain('30 days');
    await berthOk(m, ['registry', 'logout']);
  });

  it('delete asks first; "n" keeps the registry, --force deletes it', async () => {
    const refused = await berthIn(m, ['registry', 'delete']);
    expect(refused.stderr).toBe('Warning: Requires confirmation. Use the `--force` flag to continue without confirmation.\nError: operation aborted\n');
    const declined = await berthIn(m, ['registry', 'rm', '--interactive'], { input: 'n\n' });
    expect(declined.stderr).toBe('Warning: Are you sure you want to delete registry (y/N) ? \nError: operation aborted\n');
    expect((await apiJson<{ registries: unknown[] }>('/v2/registries')).registries).toHaveLength(1);
    const deleted = await berthOk(m, ['registry', 'd', '--force']);
    expect(deleted.stdout).toBe('');
    expect((await apiJson<{ registries: unknown[] }>('/v2/registries')).registries).toHaveLength(0);
  });
});
