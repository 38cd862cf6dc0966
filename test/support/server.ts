/**
 * The real Berth server as a child process (`node dist/main.js serve`, built by `npm test`
 * before Vitest starts), on free 127.0.0.1 ports, a fresh data dir and a fresh database of the
 * project's dialect. Tests drive it over HTTP and with real clients.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testDatabaseUrl } from './database.js';
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
  /** Extra environment. */
  env?: Record<string, string>;
  /** How long to wait for /healthz (default 20 s). */
  readyTimeoutMs?: number;
  /** An existing data dir (default: a new one). */
  dataDir?: string;
  /** An existing database (default: a new one of the project's dialect). */
  databaseUrl?: string;
}

const MAX_LOG_CHARS = 2_000_000;

/** Starts a server and waits until both listeners answer. Call `stop()` in afterAll. */
export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  if (!existsSync(MAIN_JS)) {
    throw new Error(`${MAIN_JS} does not exist: run \`npm run build\` first (npm test does)`);
  }
  const dataDir = options.dataDir ?? (await makeTempDir('berth-data'));
  const databaseUrl = options.databaseUrl ?? (await testDatabaseUrl());
  const apiPort = await freePort();
  let registryPort = await freePort();
  while (registryPort === apiPort) registryPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const registryHost = `127.0.0.1:${registryPort}`;
  const registryUrl = `http://${registryHost}`;
  const token = `dop_v1_${randomBytes(32).toString('hex')}`;
  const args = [
    MAIN_JS,
    'serve',
    '--data-dir', dataDir,
    '--api-listen', `127.0.0.1:${apiPort}`,
    '--registry-listen', registryHost,
    '--database-url', databaseUrl,
    '--log-level', 'warn',
    ...(options.args ?? []),
  ];
  // Only our own settings: a BERTH_* variable from the developer's shell must not leak in.
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('BERTH_') || key.startsWith('BERTH_TEST_')) env[key] = value;
  }
  Object.assign(env, { BERTH_BOOTSTRAP_TOKEN: token }, options.env);

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

  const waitReady = async () => {
    const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
    let lastError = '';
    for (;;) {
      if (!running) {
        throw new Error(`server exited before it was ready: \nnode ${args.join(' ')}\n--- logs\n${logs}`);
      }
      try {
        const health = await fetch(`${apiUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
        await health.arrayBuffer();
        if (health.ok) {
          // The registry listener starts after the API one; any HTTP answer means it is up.
          const base = await fetch(`${registryUrl}/v2/`, { signal: AbortSignal.timeout(2_000) });
          await base.arrayBuffer();
          return;
        }
        lastError = `GET /healthz → ${health.status}`;
      } catch (error) {
        lastError = (error as Error).message;
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`server not ready after ${options.readyTimeoutMs ?? 20_000} ms (${lastError})\n--- logs\n${logs}`);
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
    get process() {
      return child;
    },
    get logs() {
      return logs;
    },
    stop,
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

/** A registry name no other test uses. */
export function uniqueName(prefix = 'r'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}
