/**
 * A containerd daemon of the test's own (root, state, sockets in one temporary directory; the
 * CRI plugin off) driven with `ctr`, the client Kubernetes nodes pull through. Everything a
 * test pulls stays in this daemon and goes when it stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type RunResult } from './exec.js';

export const CONTAINERD_TOOLS = ['containerd', 'ctr'] as const;

const CTR_TIMEOUT_MS = 90_000;

export interface Containerd {
  /** `ctr` against this daemon, in `namespace` (default `berth`); never throws on failure. */
  ctr(args: string[], namespace?: string): Promise<RunResult>;
  /** The manifest or index digest containerd recorded for `ref` in `namespace`, if it has the image. */
  imageDigest(ref: string, namespace?: string): Promise<string | undefined>;
  /** Everything the daemon logged, for failure messages. */
  readonly logs: string;
  stop(): Promise<void>;
}

export async function startContainerd(): Promise<Containerd> {
  // Unix socket paths are limited to 108 bytes, so this lives directly in /tmp.
  const dir = await mkdtemp(join(tmpdir(), 'containerd-'));
  const socket = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  await writeFile(
    config,
    [
      'version = 2',
      `root = "${join(dir, 'root')}"`,
      `state = "${join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${join(dir, 'containerd-ttrpc.sock')}"`,
      '',
    ].join('\n'),
  );
  let logs = '';
  const child: ChildProcess = spawn('containerd', ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => (logs += b.toString('utf8')));
  child.stderr!.on('data', (b: Buffer) => (logs += b.toString('utf8')));
  const killOnExit = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', killOnExit);

  const ctr = (args: string[], namespace = 'berth') => run('ctr', ['--address', socket, '--namespace', namespace, ...args], { timeoutMs: CTR_TIMEOUT_MS });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    process.off('exit', killOnExit);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if ((await ctr(['version'])).code === 0) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`containerd did not start:\n${logs.slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    ctr,
    async imageDigest(ref, namespace) {
      const listed = await ctr(['images', 'ls'], namespace);
      if (listed.code !== 0) throw new Error(`ctr images ls failed: ${listed.stderr}`);
      // REF TYPE DIGEST SIZE PLATFORMS LABELS
      const row = listed.stdout.split('\n').map((line) => line.trim().split(/\s+/)).find((cells) => cells[0] === ref);
      return row?.[2];
    },
    get logs() {
      return logs;
    },
    stop,
  };
}
