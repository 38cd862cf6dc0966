// A throw-away one-node Ceph cluster with radosgw (a real S3 implementation) on 127.0.0.1,
// everything under one temporary directory: a monitor (msgr v1, free port), one bluestore OSD
// on a sparse file kept outside the OSD's directory, and radosgw (beast, free port). cephx is
// off and there is no manager; pools have one replica. Ready in about 20 s.
//
// The one recipe for the tests (test/support/ceph.ts) and the benchmark (bench/lib/ceph.mjs).
// Plain Node so the benchmark runs it without a build; types in ceph-cluster.d.mts.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.mjs';

const execFileAsync = promisify(execFile);

export const CEPH_TOOLS = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'monmaptool', 'ceph-authtool'];

/** The Ceph binaries that are missing here (Debian: radosgw ceph-mon ceph-osd ceph-common). */
export function missingCephTools() {
  return CEPH_TOOLS.filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

function cephConf(dir, fsid, monPort, rgwPort, osdBytes, usageLog) {
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
${usageLog
    ? `# Per-bucket counts of S3 operations (radosgw-admin usage show), flushed every second.
rgw enable usage log = true
rgw usage log tick interval = 1
rgw usage log flush threshold = 1
`
    : ''}`;
}

async function run(tool, args, timeoutMs = 60_000) {
  try {
    const { stdout } = await execFileAsync(tool, args, { timeout: timeoutMs, cwd: '/' });
    return stdout;
  } catch (e) {
    throw new Error(`${tool} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** The status of a GET of `url` (2 s at most). */
function statusOf(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function until(what, probe, timeoutMs, logs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`ceph: ${what} not ready after ${timeoutMs} ms\n${await logs()}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** Ends `child` with `signal`, and with SIGKILL if it is still there 10 s later. */
async function end(child, signal) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts the cluster and a radosgw user with the given keys. A failed start is tried again
 * from scratch with fresh ports: when two clusters start at once on one machine (two test
 * runs), both may be handed the same free port for their monitors.
 */
export async function startCephCluster({ attempts = 3, log = () => undefined, ...options }) {
  const missing = missingCephTools();
  if (missing.length > 0) throw new Error(`Ceph binaries missing: ${missing.join(', ')} (apt-get install --no-install-recommends radosgw ceph-mon ceph-osd ceph-common)`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options, log);
    } catch (e) {
      if (attempt >= attempts) throw e;
      log(`ceph: start attempt ${attempt} of ${attempts} failed, trying again with fresh ports: ${String(e.message).split('\n')[0]}`);
    }
  }
}

async function startOnce({ accessKeyId, secretAccessKey, user = 'berth', osdBytes = 10 * 1024 ** 3, usageLog = false, keep = false, dirPrefix = 'berth-ceph-' }, log) {
  const dir = await mkdtemp(join(tmpdir(), dirPrefix));
  for (const sub of ['mon', 'osd0', 'run', 'log']) await mkdir(join(dir, sub));
  const monPort = await freePort();
  let rgwPort = await freePort();
  while (rgwPort === monPort) rgwPort = await freePort();
  const fsid = randomUUID();
  const conf = join(dir, 'ceph.conf');
  await writeFile(conf, cephConf(dir, fsid, monPort, rgwPort, osdBytes, usageLog));
  const c = ['-c', conf];

  /** name → the daemon's latest process */
  const daemons = new Map();
  const killAll = () => {
    for (const d of daemons.values()) if (d.exitCode === null && d.signalCode === null) d.kill('SIGKILL');
  };
  process.on('exit', killAll);
  const daemon = (tool, args, name) => {
    const out = createWriteStream(join(dir, 'log', `${name}.out`), { flags: 'a' });
    const child = spawn(tool, [...c, ...args, '-f'], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    daemons.set(name, child);
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
    for (const d of [...daemons.values()].reverse()) await end(d, 'SIGTERM');
    process.off('exit', killAll);
    if (!keep) await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  const killNow = () => {
    killAll();
    process.off('exit', killAll);
    if (!keep) rmSync(dir, { recursive: true, force: true });
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
            log(`ceph: the OSD exited at start (${osd.exitCode ?? osd.signalCode}); starting it again`);
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
    await until('radosgw', async () => (await statusOf(endpoint)) === 200, 120_000, logs);
    await run('radosgw-admin', [...c, 'user', 'create', `--uid=${user}`, `--display-name=${user}`, `--access-key=${accessKeyId}`, `--secret=${secretAccessKey}`]);
    return {
      endpoint,
      accessKeyId,
      secretAccessKey,
      dir,
      conf,
      pids: { mon: daemons.get('mon').pid, osd0: daemons.get('osd0').pid, rgw: daemons.get('rgw').pid },
      stop,
      killNow,
    };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

/**
 * Starts a radosgw of its own on the cluster `conf` describes, serving the same buckets on a
 * port of its own, so a test can take S3 away and bring it back without touching the gateway
 * everything else uses.
 */
export async function startGateway(conf) {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const name = `client.rgw.t${randomUUID().slice(0, 8)}`;
  const dir = join(conf, '..');
  let child;
  const killOnExit = () => child?.kill('SIGKILL');
  process.on('exit', killOnExit);
  const logFile = join(dir, 'log', `${name}.out`);
  const start = async () => {
    const out = createWriteStream(logFile, { flags: 'a' });
    child = spawn('radosgw', ['-c', conf, '-n', name, '--rgw-frontends', `beast endpoint=127.0.0.1:${port}`, '--rgw-data', join(dir, name), '-f'], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    const logs = async () => `--- ${name}\n${(await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n')}`;
    await until(`gateway ${name}`, async () => (await statusOf(endpoint)) === 200, 60_000, logs);
  };
  await start();
  return {
    endpoint,
    kill: () => end(child, 'SIGKILL'),
    restart: start,
    stop: async () => {
      await end(child, 'SIGTERM');
      process.off('exit', killOnExit);
    },
  };
}
