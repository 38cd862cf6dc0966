/**
 * `berth registry login` for real container clients: the real binary against a real server
 * (child processes), then a skopeo push that reads only the Docker config.json login wrote and a
 * podman push that reads only the containers auth.json (podman's default,
 * $XDG_RUNTIME_DIR/containers/auth.json). Logout removes both entries and revokes the
 * credential, so the old file no longer works. DOCKER_CONFIG, REGISTRY_AUTH_FILE and Docker
 * credential helpers are honoured.
 */
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectFailure, expectSuccess, PODMAN_TOOLS, SKOPEO_TOOLS } from '../support/clients.js';
import { run, type RunResult } from '../support/exec.js';
import { buildImage, IMAGE_TOOLS, type SingleImage } from '../support/images.js';
import { startServer, type TestServer } from '../support/server.js';
import { makeTempDir } from '../support/tmp.js';
import { requireTools } from '../support/tools.js';
import { berthBinary, newMachine, type Machine } from './support.js';

const skip = requireTools([...SKOPEO_TOOLS, ...PODMAN_TOOLS, ...IMAGE_TOOLS]);

interface AuthFile {
  auths: Record<string, { auth?: string }>;
  credsStore?: string;
}

async function readJson(path: string): Promise<AuthFile> {
  return JSON.parse(await readFile(path, 'utf8')) as AuthFile;
}

function ok(result: RunResult, server?: TestServer): RunResult {
  return expectSuccess(result, server);
}

/** A client environment holding nothing but what is passed: no credentials of the developer's. */
async function bareEnv(extra: Record<string, string>): Promise<NodeJS.ProcessEnv> {
  const home = await makeTempDir('client-home');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), TMPDIR: home };
  await mkdir(env.XDG_RUNTIME_DIR!, { recursive: true });
  return { ...env, ...extra };
}

describe.skipIf(skip)('berth registry login with skopeo and podman', { timeout: 180_000 }, () => {
  let server: TestServer;
  let m: Machine;
  let image: SingleImage;
  let podmanDir: string;

  beforeAll(async () => {
    server = await startServer();
    m = await newMachine();
    image = await buildImage();
    podmanDir = await makeTempDir('podman');
    ok(await berthBinary(m, ['auth', 'init', '-t', server.token, '-u', server.apiUrl]));
    ok(await berthBinary(m, ['registry', 'create', 'images', '--subscription-tier', 'basic']));
  });
  afterAll(async () => {
    await server?.stop();
    if (podmanDir) await rm(runroot(), { recursive: true, force: true });
  });

  // podman refuses a runroot longer than 50 characters, so it lives directly in /tmp.
  const runroot = () => join('/tmp', `pr-${podmanDir.slice(-6)}`);

  /** podman with its own storage under a short path (its runroot must be under 50 characters). */
  const podman = (args: string[], env: NodeJS.ProcessEnv) =>
    run(
      'podman',
      [
        '--root', join(podmanDir, 'root'),
        '--runroot', runroot(),
        '--storage-driver', 'vfs',
        '--events-backend', 'file',
        '--cgroup-manager', 'cgroupfs',
        ...args,
      ],
      { env, timeoutMs: 120_000 },
    );

  it('login writes both files; skopeo pushes with config.json, podman with auth.json; logout removes and revokes', async () => {
    const login = ok(await berthBinary(m, ['registry', 'login']));
    expect(login.stdout).toBe(`Logging Docker in to ${server.registryHost}\n`);
    const docker = await readJson(m.dockerConfig);
    const containers = await readJson(m.containersAuth);
    expect(Object.keys(docker.auths)).toEqual([server.registryHost]);
    expect(containers).toEqual(docker);

    // skopeo: only Docker's config.json, passed explicitly; its environment has no other credentials.
    const skopeoEnv = await bareEnv({});
    ok(
      await run(
        'skopeo',
        ['copy', '--preserve-digests', '--dest-tls-verify=false', '--dest-authfile', m.dockerConfig, image.ref, `docker://${server.registryHost}/images/by-skopeo:v1`],
        { env: skopeoEnv, timeoutMs: 120_000 },
      ),
      server,
    );
    // Without credentials the same push is refused: the file is what let it in.
    expectFailure(
      await run('skopeo', ['copy', '--dest-tls-verify=false', image.ref, `docker://${server.registryHost}/images/anonymous:v1`], { env: skopeoEnv, timeoutMs: 120_000 }),
    );

    // podman: nothing but $XDG_RUNTIME_DIR/containers/auth.json, found where podman looks by default.
    const podmanEnv = await bareEnv({ XDG_RUNTIME_DIR: m.env.XDG_RUNTIME_DIR! });
    const context = await makeTempDir('build');
    await writeFile(join(context, 'hello.txt'), `hello ${Date.now()}\n`);
    await writeFile(join(context, 'Containerfile'), 'FROM scratch\nCOPY hello.txt /\n');
    const tag = `${server.registryHost}/images/by-podman:v1`;
    ok(await podman(['build', '-t', tag, context], podmanEnv), server);
    ok(await podman(['push', '--tls-verify=false', tag], podmanEnv), server);

    const listed = ok(await berthBinary(m, ['registry', 'repository', 'list-v2', '--format', 'Name,TagCount', '--no-header']));
    expect(listed.stdout).toBe('by-podman    1\nby-skopeo    1\n');
    const tags = ok(await berthBinary(m, ['registry', 'repository', 'list-tags', 'by-skopeo', '--format', 'Tag,ManifestDigest', '--no-header']));
    expect(tags.stdout).toBe(`v1    ${image.digest}\n`);

    const saved = join(await makeTempDir('saved-auth'), 'auth.json');
    await copyFile(m.containersAuth, saved);
    const logout = ok(await berthBinary(m, ['registry', 'logout']));
    expect(logout.stdout).toBe(`Removing login credentials for ${server.registryHost}\n`);
    expect(await readJson(m.dockerConfig)).toEqual({ auths: {} });
    expect(await readJson(m.containersAuth)).toEqual({ auths: {} });
    // The credential itself is revoked: the copy kept from before logout no longer works.
    const revoked = expectFailure(
      await run('skopeo', ['inspect', '--tls-verify=false', '--authfile', saved, `docker://${server.registryHost}/images/by-skopeo:v1`], { env: skopeoEnv, timeoutMs: 60_000 }),
    );
    expect(revoked.stderr).toMatch(/unauthorized|authentication required|401/i);
  });

  it('honours DOCKER_CONFIG and REGISTRY_AUTH_FILE (the registries tree)', async () => {
    const dir = await makeTempDir('elsewhere');
    const env = { DOCKER_CONFIG: join(dir, 'docker'), REGISTRY_AUTH_FILE: join(dir, 'containers-auth.json') };
    const login = ok(await berthBinary(m, ['registries', 'login', 'images', '--expiry-seconds', '600'], { env }));
    expect(login.stdout).toBe(`Logging Docker in to ${server.registryHost}/images\n`);
    expect(login.stderr).toBe(`Notice: Credentials for ${server.registryHost} written to ${join(dir, 'docker', 'config.json')} and ${env.REGISTRY_AUTH_FILE}\n`);
    const written = await readJson(env.REGISTRY_AUTH_FILE);
    expect(await readJson(join(dir, 'docker', 'config.json'))).toEqual(written);
    // skopeo reads REGISTRY_AUTH_FILE by default.
    const skopeoEnv = await bareEnv({ REGISTRY_AUTH_FILE: env.REGISTRY_AUTH_FILE });
    ok(await run('skopeo', ['inspect', '--tls-verify=false', `docker://${server.registryHost}/images/by-skopeo:v1`], { env: skopeoEnv, timeoutMs: 60_000 }), server);
    ok(await berthBinary(m, ['registries', 'logout', 'images'], { env }));
    expect(await readJson(env.REGISTRY_AUTH_FILE)).toEqual({ auths: {} });
    expectFailure(await run('skopeo', ['inspect', '--tls-verify=false', '--authfile', env.REGISTRY_AUTH_FILE, `docker://${server.registryHost}/images/by-skopeo:v1`], { env: skopeoEnv, timeoutMs: 60_000 }));
  });

  it('stores the secret in the Docker credential helper config.json names, as the docker CLI does', async () => {
    const bin = await makeTempDir('helper-bin');
    const store = join(bin, 'store.json');
    // A minimal docker-credential-* helper (the protocol: store/get/erase on stdin) keeping one entry.
    await writeFile(
      join(bin, 'docker-credential-berthtest'),
      `#!/bin/sh\ncase "$1" in\n  store) cat > '${store}' ;;\n  get) if [ -s '${store}' ]; then cat '${store}'; else echo 'credentials not found in native keychain'; exit 1; fi ;;\n  erase) : > '${store}' ;;\nesac\n`,
    );
    await chmod(join(bin, 'docker-credential-berthtest'), 0o755);
    const dir = await makeTempDir('helper-docker');
    await writeFile(join(dir, 'config.json'), JSON.stringify({ credsStore: 'berthtest' }));
    const env = { DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH}` };

    ok(await berthBinary(m, ['registry', 'login'], { env }));
    const stored = JSON.parse(await readFile(store, 'utf8')) as { ServerURL: string; Username: string; Secret: string };
    expect(stored.ServerURL).toBe(server.registryHost);
    expect(await readJson(join(dir, 'config.json'))).toEqual({ credsStore: 'berthtest', auths: { [server.registryHost]: {} } });
    const containers = await readJson(m.containersAuth);
    expect(Buffer.from(containers.auths[server.registryHost]!.auth!, 'base64').toString()).toBe(`${stored.Username}:${stored.Secret}`);

    ok(await berthBinary(m, ['registry', 'logout'], { env }));
    expect(await readFile(store, 'utf8')).toBe('');
    expect(await readJson(join(dir, 'config.json'))).toEqual({ credsStore: 'berthtest', auths: {} });
    const token = await fetch(`${server.registryUrl}/auth/token?service=${server.registryHost}`, {
      headers: { authorization: `Basic ${Buffer.from(`${stored.Username}:${stored.Secret}`).toString('base64')}` },
    });
    expect(token.status).toBe(401);
  });
});
