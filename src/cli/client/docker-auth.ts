/**
 * Where container tools keep registry credentials, and how `login` / `logout` change them:
 *
 *   Docker's config.json   $DOCKER_CONFIG/config.json, else ~/.docker/config.json — read by
 *                          docker, and by skopeo/podman as a fallback. When it names a
 *                          credential helper (`credHelpers[host]` or `credsStore`) the secret goes
 *                          to `docker-credential-<helper>` instead, as the docker CLI (and doctl
 *                          through it) does.
 *   containers auth.json   $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, else
 *                          /run/containers/<uid>/auth.json — what podman, buildah and skopeo read
 *                          first (containers-auth.json(5)).
 *
 * Both hold `{"auths": {"<host>": {"auth": base64("<user>:<password>")}}}`; every other key
 * and host is kept as it was. Files are replaced atomically with mode 0600.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';
import { CliError } from './errors.js';
import type { ClientIo } from './io.js';

interface AuthEntry {
  auth?: string;
  [key: string]: unknown;
}

interface AuthFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

export interface AuthLocations {
  dockerConfig: string;
  containersAuth: string;
}

export function authLocations(io: ClientIo): AuthLocations {
  const home = io.env.HOME;
  const dockerDir = io.env.DOCKER_CONFIG ?? (home ? join(home, '.docker') : undefined);
  if (!dockerDir) throw new CliError('neither $DOCKER_CONFIG nor $HOME is set: cannot find Docker\'s config.json');
  const containersAuth =
    io.env.REGISTRY_AUTH_FILE ?? (io.env.XDG_RUNTIME_DIR ? join(io.env.XDG_RUNTIME_DIR, 'containers', 'auth.json') : `/run/containers/${io.uid}/auth.json`);
  return { dockerConfig: resolve(join(dockerDir, 'config.json')), containersAuth: resolve(containersAuth) };
}

/** `user:password` out of a config.json `auth` value. */
export function decodeAuth(auth: string): { username: string; password: string } {
  const decoded = Buffer.from(auth, 'base64').toString('utf8');
  const parts = decoded.split(':');
  // doctl refuses anything that is not exactly user:password.
  if (parts.length !== 2) throw new CliError('got invalid docker credentials');
  return { username: parts[0]!, password: parts[1]! };
}

function encodeAuth(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`).toString('base64');
}

async function readAuthFile(path: string): Promise<AuthFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  if (text.trim() === '') return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as AuthFile;
  } catch (err) {
    throw new CliError(`${path} is not valid JSON (${(err as Error).message}); fix or remove it`);
  }
}

async function writeAuthFile(path: string, content: AuthFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(content, null, '\t')}\n`, { mode: 0o600 });
    await chmod(temp, 0o600);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** The credential helper Docker would use for `host`, if any. */
function helperFor(config: AuthFile, host: string): string | undefined {
  return config.credHelpers?.[host] ?? (config.credsStore || undefined);
}

/** Runs `docker-credential-<helper> <action>` with `input` on stdin; returns stdout. */
function runHelper(io: ClientIo, helper: string, action: 'store' | 'get' | 'erase', input: string): Promise<string> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(program, [action], { env: { PATH: io.env.PATH ?? ['/usr/local/bin', '/usr/bin', '/bin'].join(delimiter), HOME: io.env.HOME ?? '' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', (err) => reject(new CliError(`${program}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found on PATH' : err.message}`)));
    child.once('close', (code) => {
      if (code === 0) resolvePromise(stdout);
      else reject(new CliError(`${program} ${action}: ${(stderr || stdout).trim() || `exit status ${code}`}`));
    });
    // A helper may exit without reading its input; its exit status tells what happened.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/**
 * Stores `username:password` for `host` in Docker's config (or its helper) and in the
 * containers auth file; returns the files written.
 */
export async function storeCredential(io: ClientIo, host: string, username: string, password: string): Promise<string[]> {
  const { dockerConfig, containersAuth } = authLocations(io);
  const docker = await readAuthFile(dockerConfig);
  const helper = helperFor(docker, host);
  if (helper) {
    await runHelper(io, helper, 'store', JSON.stringify({ ServerURL: host, Username: username, Secret: password }));
    // What the docker CLI leaves in config.json for a host whose secret is in a helper.
    docker.auths = { ...docker.auths, [host]: {} };
  } else {
    docker.auths = { ...docker.auths, [host]: { ...docker.auths?.[host], auth: encodeAuth(username, password) } };
  }
  await writeAuthFile(dockerConfig, docker);
  if (containersAuth !== dockerConfig) {
    const containers = await readAuthFile(containersAuth);
    containers.auths = { ...containers.auths, [host]: { ...containers.auths?.[host], auth: encodeAuth(username, password) } };
    await writeAuthFile(containersAuth, containers);
  }
  return containersAuth === dockerConfig ? [dockerConfig] : [dockerConfig, containersAuth];
}

/**
 * Removes `host` from both files (and Docker's helper); returns the distinct passwords that were
 * stored, so that they can be revoked.
 */
export async function eraseCredential(io: ClientIo, host: string): Promise<string[]> {
  const { dockerConfig, containersAuth } = authLocations(io);
  const passwords = new Set<string>();
  const docker = await readAuthFile(dockerConfig);
  const helper = helperFor(docker, host);
  if (helper) {
    const stored = await runHelper(io, helper, 'get', host).catch(() => '');
    try {
      const secret = (JSON.parse(stored) as { Secret?: string }).Secret;
      if (secret) passwords.add(secret);
    } catch {
      // Nothing stored for this host.
    }
    await runHelper(io, helper, 'erase', host).catch(() => '');
  }
  for (const path of containersAuth === dockerConfig ? [dockerConfig] : [dockerConfig, containersAuth]) {
    const file = path === dockerConfig ? docker : await readAuthFile(path);
    const entry = file.auths?.[host];
    if (!entry) continue;
    if (entry.auth) passwords.add(decodeAuth(entry.auth).password);
    delete file.auths![host];
    await writeAuthFile(path, file);
  }
  return [...passwords];
}
