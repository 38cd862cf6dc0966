/**
 * A throw-away one-node Ceph cluster with radosgw (a real S3 implementation) on 127.0.0.1,
 * everything under one temporary directory: a monitor (msgr v1, free port), one bluestore OSD
 * on a sparse file kept outside the OSD's directory, and radosgw (beast, free port). cephx is
 * off and there is no manager; pools have one replica. Ready in about 20 s. Used by
 * ceph-global-setup.ts and the multi-node test; no vitest imports, so tools may reuse it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './postgres.js';
import { missingTools } from './tools.js';

const execFileAsync = promisify(execFile);

/** Keys of the S3 user every test cluster gets (loopback only, thrown away with the cluster). */
export const TEST_S3_ACCESS_KEY = 'BERTHTESTACCESSKEY01';
export const TEST_S3_SECRET_KEY = 'berth-test-secret-key-not-a-secret-0000001';

const TOOLS = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'monmaptool', 'ceph-authtool'];

/** The Ceph binaries that are missing here (Debian: radosgw ceph-mon ceph-osd ceph-common). */
export function missingCephTools(): string[] {
  return missingTools(TOOLS);
}

export interface Radosgw {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  dir: string;
  /** The cluster's ceph.conf: more gateways onto the same data can be started with it (startGateway). */
  conf: string;
  stop(): Promise<void>;
}

/** One more radosgw process on a cluster, serving the same buckets on a port of its own. */
export interface Gateway {
  /** http://127.0.0.1:PORT, the same across restarts. */
  endpoint: string;
  /** Ends the process at once (SIGKILL): the store stops answering mid-request, as in a crash. */
  kill(): Promise<void>;
  /** Starts the process again on the same port and waits until it answers. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a radosgw of its own on the cluster `conf` describes (the run's shared cluster), so a
 * test can take S3 away and bring it back without touching the gateway other tests use.
 */
export async function startGateway(conf: string): Promise<Gateway> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const name = `client.rgw.t${randomUUID().slice(0, 8)}`;
  const dir = join(conf, '..');
  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill('SIGKILL');
  process.on('exit', killOnExit);
  const logFile = join(dir, 'log', `${name}.out`);
  const start = async () => {
    const out = createWriteStream(logFile, { flags: 'a' });
    child = spawn('radosgw', ['-c', conf, '-n', name, '--rgw-frontends', `beast endpoint=127.0.0.1:${port}`, '--rgw-data', join(dir, name), '-f'], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    const logs = async () => `--- ${name}\n${(await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n')}`;
    await until(`gateway ${name}`, async () => (await fetch(endpoint, { signal: AbortSignal.timeout(2_000) })).status === 200, 60_000, logs);
  };
  const end = async (signal: NodeJS.Signals) => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill(signal);
    const timer = setTimeout(() => current.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    endpoint,
    kill: () => end('SIGKILL'),
    restart: start,
    stop: async () => {
      await end('SIGTERM');
      process.off('exit', killOnExit);
    },
  };
}

function config(dir: string, fsid: string, monPort: number, rgwPort: number, osdBytes: number): string {
  return `[global]
fsid = ${fsid}
mon host = v1:127.0.0.1:${monPort}
mon initial members = a
public addr = 127.0.0.1
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon max pg per osd = 1000
osd crush chooseleaf type = 0
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
keyring = ${dir}/keyring
[mon]
mon data = ${dir}/mon
[osd]
osd data = ${dir}/osd$id
osd objectstore = bluestore
bluestore block path = ${dir}/osd$id.block
bluestore block create = true
bluestore block size = ${osdBytes}
osd memory target = 1073741824
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
`;
}

async function run(tool: string, args: string[], timeoutMs = 60_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync(tool, args, { timeout: timeoutMs, cwd: '/' });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${tool} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number, logs: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`ceph: ${what} not ready after ${timeoutMs} ms\n${await logs()}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/**
 * Starts the cluster; `stop()` ends every daemon and removes the directory. A failed start is
 * tried again from scratch with fresh ports: when two clusters start at once on one machine
 * (two test runs), both may be handed the same free port for their monitors.
 */
export async function startRadosgw(options: { osdBytes?: number } = {}): Promise<Radosgw> {
  const missing = missingCephTools();
  if (missing.length > 0) throw new Error(`Ceph binaries missing: ${missing.join(', ')} (apt-get install --no-install-recommends radosgw ceph-mon ceph-osd ceph-common)`);
  const attempts = 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startCluster(options);
    } catch (error) {
      if (attempt >= attempts) throw error;
      console.warn(`ceph: start attempt ${attempt} of ${attempts} failed, trying again with fresh ports: ${(error as Error).message}`);
    }
  }
}

async function startCluster(options: { osdBytes?: number }): Promise<Radosgw> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-ceph-'));
  for (const sub of ['mon', 'osd0', 'run', 'log']) await mkdir(join(dir, sub));
  const monPort = await freePort();
  let rgwPort = await freePort();
  while (rgwPort === monPort) rgwPort = await freePort();
  const fsid = randomUUID();
  const conf = join(dir, 'ceph.conf');
  await writeFile(conf, config(dir, fsid, monPort, rgwPort, options.osdBytes ?? 10 * 1024 ** 3));
  const c = ['-c', conf];

  const daemons: ChildProcess[] = [];
  const killAll = () => {
    for (const d of daemons) if (d.exitCode === null) d.kill('SIGKILL');
  };
  process.on('exit', killAll);
  const daemon = (tool: string, args: string[], name: string) => {
    const out = createWriteStream(join(dir, 'log', `${name}.out`), { flags: 'a' });
    const child = spawn(tool, [...c, ...args, '-f'], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    daemons.push(child);
    return child;
  };
  const logs = async () => {
    let text = '';
    for (const name of ['mon.out', 'osd0.out', 'rgw.out', 'client.rgw.a.log']) {
      const content = await readFile(join(dir, 'log', name), 'utf8').catch(() => '');
      if (content) text += `--- ${name}\n${content.split('\n').slice(-15).join('\n')}\n`;
    }
    return text;
  };
  const stop = async () => {
    for (const d of [...daemons].reverse()) {
      if (d.exitCode !== null || d.signalCode !== null) continue;
      const exited = new Promise((resolve) => d.once('exit', resolve));
      d.kill('SIGTERM');
      const timer = setTimeout(() => d.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    process.off('exit', killAll);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };

  try {
    await run('ceph-authtool', ['--create-keyring', join(dir, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await run('monmaptool', ['--create', '--add', 'a', `v1:127.0.0.1:${monPort}`, '--fsid', fsid, join(dir, 'monmap')]);
    await run('ceph-mon', [...c, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', join(dir, 'keyring')]);
    daemon('ceph-mon', ['-i', 'a'], 'mon');
    await until('monitor', async () => (await run('ceph', [...c, '--connect-timeout', '5', 'mon', 'stat'], 10_000), true), 60_000, logs);

    const osdUuid = randomUUID();
    const id = (await run('ceph', [...c, 'osd', 'new', osdUuid], 30_000)).trim();
    if (id !== '0') throw new Error(`ceph: expected OSD id 0, got ${id}`);
    await run('ceph-osd', [...c, '-i', '0', '--mkfs', '--osd-uuid', osdUuid], 120_000);
    // ceph-osd sometimes exits right after starting: its first monitor command can leave before
    // it has the monitor map, carry no fsid, and be refused ("mon_cmd_maybe_osd_create fail:
    // 'wrong fsid'", then "init unable to update_crush_device_class"). Seen on a quiet machine
    // about one start in three; starting the OSD again is enough.
    let osd = daemon('ceph-osd', ['-i', '0'], 'osd0');
    let osdStarts = 1;
    await until(
      'OSD',
      async () => {
        if (osd.exitCode !== null || osd.signalCode !== null) {
          if (osdStarts < 5) {
            console.warn(`ceph: the OSD exited at start (${osd.exitCode ?? osd.signalCode}); starting it again`);
            osd = daemon('ceph-osd', ['-i', '0'], 'osd0');
            osdStarts++;
          }
          return false;
        }
        return JSON.parse(await run('ceph', [...c, 'osd', 'stat', '-f', 'json'], 10_000)).num_up_osds === 1;
      },
      120_000,
      logs,
    );

    daemon('radosgw', ['-n', 'client.rgw.a'], 'rgw');
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await until('radosgw', async () => (await fetch(endpoint, { signal: AbortSignal.timeout(2_000) })).status === 200, 120_000, logs);
    await run('radosgw-admin', [...c, 'user', 'create', '--uid=berth-test', '--display-name=berth-test', `--access-key=${TEST_S3_ACCESS_KEY}`, `--secret=${TEST_S3_SECRET_KEY}`]);
    return { endpoint, accessKeyId: TEST_S3_ACCESS_KEY, secretAccessKey: TEST_S3_SECRET_KEY, dir, conf, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
