/**
 * HAProxy (Debian `haproxy`) in front of several Berth nodes on 127.0.0.1: round-robin, no
 * stickiness, health checks every 500 ms (down after two failures, so a slow check on a busy
 * machine does not take a node out) (registry: GET /v2/ answering 200 or 401; API:
 * GET /healthz), requests to a dead node redispatched, and `X-Node` naming the node that
 * answered. Stopped by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './postgres.js';
import { makeTempDir } from './tmp.js';

export const HAPROXY_TOOLS = ['haproxy'] as const;

export interface Backend {
  name: string;
  registryPort?: number;
  apiPort?: number;
}

export interface Haproxy {
  /** 127.0.0.1:PORT in front of the registry listeners. */
  registryHost: string;
  /** http://127.0.0.1:PORT in front of the API listeners. */
  apiUrl: string;
  /** Points HAProxy at other nodes (a new process on the same ports). */
  reconfigure(backends: Backend[]): Promise<void>;
  logs(): string;
  stop(): Promise<void>;
}

function config(registryPort: number, apiPort: number, backends: Backend[]): string {
  const servers = (kind: 'registryPort' | 'apiPort') =>
    backends
      .filter((b) => b[kind] !== undefined)
      .map((b) => `    server ${b.name} 127.0.0.1:${b[kind]} check inter 500 fall 2 rise 1`)
      .join('\n');
  return `global
    maxconn 512
defaults
    mode http
    timeout connect 2s
    timeout check 5s
    timeout client 180s
    timeout server 180s
    retries 3
    option redispatch
frontend registry
    bind 127.0.0.1:${registryPort}
    default_backend registry
backend registry
    balance roundrobin
    option httpchk GET /v2/
    http-check expect rstatus ^(200|401)$
    http-response set-header X-Node %s
${servers('registryPort')}
frontend api
    bind 127.0.0.1:${apiPort}
    default_backend api
backend api
    balance roundrobin
    option httpchk GET /healthz
    http-response set-header X-Node %s
${servers('apiPort')}
`;
}

/** `ports` lets the caller pick the frontends' ports first (nodes need the public names). */
export async function startHaproxy(backends: Backend[], ports?: { registry: number; api: number }): Promise<Haproxy> {
  const dir = await makeTempDir('haproxy');
  const registryPort = ports?.registry ?? (await freePort());
  let apiPort = ports?.api ?? (await freePort());
  while (apiPort === registryPort) apiPort = await freePort();
  let output = '';
  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill('SIGKILL');
  process.on('exit', killOnExit);

  const stop = async () => {
    const current = child;
    child = undefined;
    if (!current || current.exitCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill('SIGTERM');
    await exited;
  };

  const start = async (nodes: Backend[]) => {
    const file = join(dir, 'haproxy.cfg');
    await writeFile(file, config(registryPort, apiPort, nodes));
    const started = spawn('haproxy', ['-f', file, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    started.stdout.on('data', (c: Buffer) => (output += c.toString()));
    started.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child = started;
    // Ready when both frontends answer and every node is up (a health check has passed).
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (started.exitCode !== null) throw new Error(`haproxy exited: ${output}`);
      const ok = await Promise.all([
        fetch(`http://127.0.0.1:${registryPort}/v2/`).then((r) => r.status !== 503, () => false),
        fetch(`http://127.0.0.1:${apiPort}/healthz`).then((r) => r.status === 200, () => false),
      ]);
      if (ok.every(Boolean)) {
        await new Promise((resolve) => setTimeout(resolve, 1_000)); // every server's first check
        return;
      }
      if (Date.now() > deadline) throw new Error(`haproxy not ready: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  await start(backends);
  return {
    registryHost: `127.0.0.1:${registryPort}`,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    async reconfigure(nodes) {
      await stop();
      await start(nodes);
    },
    logs: () => output,
    async stop() {
      await stop();
      process.off('exit', killOnExit);
    },
  };
}
