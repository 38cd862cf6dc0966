/**
 * The real Berth server as a child process (`node dist/main.js serve`, built by `npm test`
 * before Vitest starts), on free 127.0.0.1 ports, a fresh data dir, a fresh database of the
 * project's dialect and fresh storage of the project's kind (the data dir or an S3 prefix). Tests drive it over HTTP and with real clients.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testDatabaseUrl } from './database.js';
import { testS3Env, testStorageUrl } from './storage.js';
import { freePort } from './postgres.js';
import { makeTempDir } from './tmp.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN_JS = join(REPO_ROOT, 'dist', 'main.js');

/** A Docker config.json as returned by docker-credentials. */
export interface DockerConfig {
  auths: Record<string, { auth: string }>;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TestServer {
  /** http://127.0.0.1:PORT of the API listener. */
  readonly apiUrl: string;
  /** 127.0.0.1:PORT of the registry listener (also its public host in config.json). */
  readonly registryHost: string;
  /** http://<registryHost> */
  readonly registryUrl: string;
  /** The bootstrap full-access API token. */
  readonly token: string;
  readonly dataDir: string;
  readonly databaseUrl: string;
  /** `--storage-url` when not the data dir. */
  readonly storageUrl: string | undefined;
  /** The current child process (a new one after restart()). */
  readonly process: ChildProcess;
  /** Everything the server printed so far, across restarts. */
  readonly logs: string;
  /** Sends `signal` (default SIGTERM) and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
  /** SIGKILL, then waits for the process to be gone. */
  kill(): Promise<ExitStatus>;
  /** Stops the server if it runs (SIGTERM), then starts it again on the same ports, data dir and database. */
  restart(): Promise<void>;
  /** fetch() against the API listener with the bootstrap token. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** fetch(), trusting the test CA when the server speaks TLS. */
  fetch: typeof globalThis.fetch;
  /** POST /v2/registries; returns the parsed body's `registry`. */
  createRegistry(name: string, tier?: string): Promise<Record<string, unknown>>;
  /** GET /v2/registries/{name}/docker-credentials; returns the parsed config.json. */
  dockerCredentials(name: string, options: { readWrite: boolean; expirySeconds?: number }): Promise<DockerConfig>;
  /** Writes a config.json/auth.json into a new temp dir and returns its path. */
  writeAuthFile(config: DockerConfig): Promise<string>;
  /** The username/password of config.json's entry for this registry host. */
  credentialsOf(config: DockerConfig): Credentials;
}

export interface StartOptions {
  /** Extra `serve` flags. */
  args?: string[];
  /** Serve HTTPS with this certificate and key (PEM files); `ca` (PEM) verifies it. */
  tls?: { certFile: string; keyFile: string; ca: string };
  /** Extra environment. */
  env?: Record<string, string>;
  /** How long to wait for /healthz (default 20 s; 60 s on S3 storage). */
  readyTimeoutMs?: number;
  /** The bootstrap token (several nodes starting on one empty database share one). */
  token?: string;
  /** Share another server's database (several nodes), instead of a fresh one. */
  databaseUrl?: string;
  /** Share another server's data dir, instead of a fresh one. */
  dataDir?: string;
  /** Share another server's storage (`--storage-url`), instead of fresh storage of the project's kind. */
  storageUrl?: string;
}

const MAX_LOG_CHARS = 2_000_000;

/** Starts a server and waits until both listeners answer. Call `stop()` in afterAll. */
export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  if (!existsSync(MAIN_JS)) {
    throw new Error(`${MAIN_JS} does not exist: run \`npm run build\` first (npm test does)`);
  }
  const dataDir = options.dataDir ?? (await makeTempDir('berth-data'));
  const databaseUrl = options.databaseUrl ?? (await testDatabaseUrl());
  const storageUrl = options.storageUrl ?? testStorageUrl();
  const apiPort = await freePort();
  let registryPort = await freePort();
  while (registryPort === apiPort) registryPort = await freePort();
  const scheme = options.tls ? 'https' : 'http';
  const apiUrl = `${scheme}://127.0.0.1:${apiPort}`;
  const registryHost = `127.0.0.1:${registryPort}`;
  const registryUrl = `${scheme}://${registryHost}`;
  // Node's fetch cannot be given a CA; over TLS, requests go through node:https instead.
  const fetch = options.tls ? httpsFetch(options.tls.ca) : globalThis.fetch;
  const token = options.token ?? `dop_v1_${randomBytes(32).toString('hex')}`;
  const args = [
    MAIN_JS,
    'serve',
    '--data-dir', dataDir,
    '--api-listen', `127.0.0.1:${apiPort}`,
    '--registry-listen', registryHost,
    '--database-url', databaseUrl,
    ...(storageUrl ? ['--storage-url', storageUrl] : []),
    '--log-level', 'warn',
    ...(options.tls ? ['--tls-cert', options.tls.certFile, '--tls-key', options.tls.keyFile] : []),
    ...(options.args ?? []),
  ];
  const roleAt = args.indexOf('--role');
  const role = roleAt >= 0 ? args[roleAt + 1] : 'all';
  // Only our own settings: a BERTH_* variable from the developer's shell must not leak in.
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('BERTH_') || key.startsWith('BERTH_TEST_')) env[key] = value;
  }
  Object.assign(env, { BERTH_BOOTSTRAP_TOKEN: token }, testS3Env(), options.env);

  let logs = '';
  const append = (chunk: Buffer) => {
    logs += chunk.toString('utf8');
    if (logs.length > MAX_LOG_CHARS) logs = logs.slice(-MAX_LOG_CHARS);
  };
  let child!: ChildProcess;
  let exited!: Promise<ExitStatus>;
  let running = false;
  const killOnExit = () => {
    if (running) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  const spawnChild = () => {
    child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    running = true;
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    const current = child;
    exited = new Promise((resolve) => {
      current.once('exit', (code, signal) => {
        running = false;
        logs += `\n[test harness] server exited (${signal ? `signal ${signal}` : `code ${code}`})\n`;
        resolve({ code, signal });
      });
    });
  };

  // On S3 the start-up also checks the bucket (HeadBucket and a probe object) over the network.
  const readyTimeoutMs = options.readyTimeoutMs ?? (storageUrl ? 60_000 : 20_000);
  const waitReady = async () => {
    const deadline = Date.now() + readyTimeoutMs;
    let lastError = '';
    for (;;) {
      if (!running) {
        throw new Error(`server exited before it was ready: \nnode ${args.join(' ')}\n--- logs\n${logs}`);
      }
      try {
        // A `--role registry` node has no API listener, a `--role api` node no registry one.
        const health = role === 'registry' ? undefined : await fetch(`${apiUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
        await health?.arrayBuffer();
        if (!health || health.ok) {
          // The registry listener starts after the API one; any HTTP answer means it is up.
          if (role !== 'api') {
            const base = await fetch(`${registryUrl}/v2/`, { signal: AbortSignal.timeout(2_000) });
            await base.arrayBuffer();
          }
          return;
        }
        lastError = `GET /healthz → ${health.status}`;
      } catch (error) {
        lastError = (error as Error).message;
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`server not ready after ${readyTimeoutMs} ms (${lastError})\n--- logs\n${logs}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitStatus> => {
    if (!running) return exited;
    child.kill(signal);
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000).unref());
    const status = await Promise.race([exited, timeout]);
    if (status === 'timeout') {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`server did not exit within 15 s of ${signal}\n--- logs\n${logs}`);
    }
    return status;
  };

  spawnChild();
  await waitReady();

  const api = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
    return fetch(`${apiUrl}${path}`, { ...init, headers });
  };

  const server: TestServer = {
    apiUrl,
    registryHost,
    registryUrl,
    token,
    dataDir,
    databaseUrl,
    storageUrl,
    get process() {
      return child;
    },
    get logs() {
      return logs;
    },
    stop,
    fetch,
    kill: () => stop('SIGKILL'),
    async restart() {
      await stop();
      spawnChild();
      await waitReady();
    },
    api,
    async createRegistry(name, tier = 'professional') {
      const response = await api('/v2/registries', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, subscription_tier_slug: tier }),
      });
      const text = await response.text();
      if (response.status !== 201) {
        throw new Error(`POST /v2/registries {"name":"${name}","subscription_tier_slug":"${tier}"} → ${response.status} (expected 201)\n${text}`);
      }
      return (JSON.parse(text) as { registry: Record<string, unknown> }).registry;
    },
    async dockerCredentials(name, { readWrite, expirySeconds }) {
      const query = new URLSearchParams({ read_write: String(readWrite) });
      if (expirySeconds !== undefined) query.set('expiry_seconds', String(expirySeconds));
      const path = `/v2/registries/${encodeURIComponent(name)}/docker-credentials?${query}`;
      const response = await api(path);
      const text = await response.text();
      if (response.status !== 200) throw new Error(`GET ${path} → ${response.status} (expected 200)\n${text}`);
      return JSON.parse(text) as DockerConfig;
    },
    async writeAuthFile(config) {
      const path = join(await makeTempDir('auth'), 'auth.json');
      await writeFile(path, JSON.stringify(config), { mode: 0o600 });
      return path;
    },
    credentialsOf(config) {
      const entry = config.auths[registryHost];
      if (!entry) throw new Error(`config.json has no entry for ${registryHost}: ${JSON.stringify(config)}`);
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new Error(`auth is not base64("user:pass"): ${entry.auth}`);
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    },
  };
  return server;
}

/** fetch() over node:https trusting `ca` (enough for the JSON calls the tests make). */
export function httpsFetch(ca: string): typeof globalThis.fetch {
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(String(input instanceof Request ? input.url : input));
      const headers = Object.fromEntries(new Headers(init.headers).entries());
      const req = httpsRequest(url, { method: init.method ?? 'GET', headers, ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
          const responseHeaders = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) responseHeaders.set(k, Array.isArray(v) ? v.join(', ') : v);
          resolve(new Response(body, { status, headers: responseHeaders }));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      if (init.signal) init.signal.addEventListener('abort', () => req.destroy(new Error('aborted')));
      req.end(typeof init.body === 'string' || init.body instanceof Uint8Array ? init.body : undefined);
    });
}

/** A registry name no other test uses. */
export function uniqueName(prefix = 'r'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}
