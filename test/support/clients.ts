/**
 * Real container clients against a test server: skopeo, podman and buildah (root, with isolated
 * vfs storage). Commands never throw on failure; use `expectSuccess` / `expectFailure` so that a
 * failure message carries the command's output and the server's recent logs.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeResult, run, type RunResult } from './exec.js';
import type { TestServer } from './server.js';

export const SKOPEO_TOOLS = ['skopeo'] as const;
export const PODMAN_TOOLS = ['podman'] as const;

const CLIENT_TIMEOUT_MS = 90_000;

function logsTail(server: TestServer | undefined): string {
  if (!server) return '';
  const logs = server.logs;
  return `\n--- server logs (tail)\n${logs.slice(-4000) || '(empty)'}`;
}

/** Returns the result if the command exited 0, otherwise throws with its output. */
export function expectSuccess(result: RunResult, server?: TestServer): RunResult {
  if (result.code !== 0) throw new Error(`expected success:\n${describeResult(result)}${logsTail(server)}`);
  return result;
}

/** Returns the result if the command failed, otherwise throws with its output. */
export function expectFailure(result: RunResult): RunResult {
  if (result.code === 0) throw new Error(`expected the command to fail:\n${describeResult(result)}`);
  return result;
}

/** skopeo with an explicit auth file (or none) and no TLS (the test server speaks http). */
export function skopeo(args: string[]): Promise<RunResult> {
  const env = { ...process.env };
  delete env.REGISTRY_AUTH_FILE;
  return run('skopeo', args, { env, timeoutMs: CLIENT_TIMEOUT_MS });
}

export function dockerRef(server: TestServer, repository: string, reference: string): string {
  const separator = reference.startsWith('sha256:') ? '@' : ':';
  return `docker://${server.registryHost}/${repository}${separator}${reference}`;
}

/**
 * Pushes an image from an OCI layout (`oci:<dir>:<tag>`) to `repository:tag` with skopeo, its
 * digests preserved; `all` copies every platform of an index. Fails the test if skopeo fails.
 */
export async function skopeoPush(server: TestServer, authfile: string, source: string, repository: string, tag: string, options: { all?: boolean } = {}): Promise<void> {
  const all = options.all ? ['--all'] : [];
  expectSuccess(await skopeo(['copy', ...all, '--preserve-digests', '--dest-tls-verify=false', '--authfile', authfile, source, dockerRef(server, repository, tag)]), server);
}

/** `skopeo inspect --raw` of a docker:// reference; returns stdout as bytes (exact manifest). */
export async function skopeoInspectRaw(server: TestServer, authfile: string, repository: string, reference: string): Promise<Buffer> {
  const result = expectSuccess(
    await skopeo(['inspect', '--raw', '--tls-verify=false', '--authfile', authfile, dockerRef(server, repository, reference)]),
    server,
  );
  return Buffer.from(result.stdout, 'utf8');
}

/** podman or buildah with its own storage, run root and auth file, all in a new temp dir. */
export interface IsolatedClient {
  authfile: string;
  run(args: string[]): Promise<RunResult>;
  /** Removes the storage (also done when the test process exits). */
  cleanup(): Promise<void>;
}
export type Podman = IsolatedClient;
export type Buildah = IsolatedClient;

export const BUILDAH_TOOLS = ['buildah'] as const;

const storageDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of storageDirs) rmSync(dir, { recursive: true, force: true });
});

async function isolated(tool: 'podman' | 'buildah', extraGlobal: (dir: string) => string[]): Promise<IsolatedClient> {
  // podman refuses a runroot longer than 50 characters, so this one lives directly in /tmp
  // rather than under the run's temporary root.
  const dir = await mkdtemp(join(tmpdir(), `${tool}-`));
  storageDirs.add(dir);
  const authfile = join(dir, 'auth.json');
  const global = ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'vfs', ...extraGlobal(dir)];
  const env = { ...process.env, REGISTRY_AUTH_FILE: authfile, TMPDIR: dir };
  return {
    authfile,
    run: (args) => run(tool, [...global, ...args], { env, timeoutMs: CLIENT_TIMEOUT_MS }),
    async cleanup() {
      storageDirs.delete(dir);
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

export function isolatedPodman(): Promise<Podman> {
  return isolated('podman', (dir) => ['--tmpdir', join(dir, 'tmp'), '--events-backend', 'file', '--cgroup-manager', 'cgroupfs']);
}

/** buildah never runs a container here: `from`, `copy`, `config`, `commit` and `push` need none. */
export function isolatedBuildah(): Promise<Buildah> {
  return isolated('buildah', () => []);
}
