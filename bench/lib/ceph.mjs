// A throw-away one-node Ceph cluster with radosgw on 127.0.0.1 for the S3 mode of the
// benchmark (the same recipe as the tests' test/support/ceph.ts, kept separate so the
// benchmark imports nothing from test/): a monitor (msgr v1), one bluestore OSD on a sparse
// file outside its directory, radosgw (beast); cephx off, no manager, one replica per pool.
// Every daemon's pid is exposed so the runner can charge the store's CPU to each timed run.
import { execFile, spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './servers.mjs';

const execFileAsync = promisify(execFile);

/** Keys of the S3 user of the throw-away cluster (loopback only, removed with it). */
export const BENCH_S3_ACCESS_KEY = 'BERTHBENCHACCESSKEY1';
export const BENCH_S3_SECRET_KEY = 'berth-bench-secret-key-not-a-secret-00001';

const TOOLS = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'monmaptool', 'ceph-authtool'];

/** The Ceph binaries that are missing (Debian: radosgw ceph-mon ceph-osd ceph-common). */
export function missingCephTools() {
  return TOOLS.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

function cephConf(dir, fsid, monPort, rgwPort, osdBytes) {
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
# Per-bucket counts of S3 operations (radosgw-admin usage show): the request pattern of each
# server, flushed every second so a scenario's counts are in before the next one starts.
rgw enable usage log = true
rgw usage log tick interval = 1
rgw usage log flush threshold = 1
`;
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
    if (Date.now() > deadline) throw new Error(`ceph: ${what} not ready after ${timeoutMs} ms\n${logs()}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/**
 * Starts the cluster (≈20 s), trying again with fresh ports and a fresh directory when an
 * attempt fails (two clusters starting at once can be handed the same monitor port).
 * @param {{ osdBytes?: number, keep?: boolean, attempts?: number, log?: (msg: string) => void }} [options]
 */
export async function startRadosgw({ attempts = 3, log = () => undefined, ...options } = {}) {
  for (let i = 1; ; i++) {
    try {
      return await startOnce(options);
    } catch (e) {
      if (i >= attempts) throw e;
      log(`radosgw start attempt ${i} failed, trying again: ${String(e.message).split('\n')[0]}`);
    }
  }
}

/**
 * One attempt. Returns { endpoint, accessKeyId, secretAccessKey, dir, pids,
 * stop(), killNow() }; `pids` are the monitor, the OSD and radosgw.
 */
async function startOnce({ osdBytes = 48 * 2 ** 30, keep = false }) {
  const missing = missingCephTools();
  if (missing.length) throw new Error(`Ceph binaries missing: ${missing.join(', ')} (apt-get install --no-install-recommends radosgw ceph-mon ceph-osd ceph-common)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-ceph-'));
  for (const sub of ['mon', 'osd0', 'run', 'log']) mkdirSync(path.join(dir, sub));
  const monPort = await freePort();
  let rgwPort = await freePort();
  while (rgwPort === monPort) rgwPort = await freePort();
  const fsid = randomUUID();
  const conf = path.join(dir, 'ceph.conf');
  writeFileSync(conf, cephConf(dir, fsid, monPort, rgwPort, osdBytes));
  const c = ['-c', conf];

  const daemons = [];
  const daemon = (tool, args, name) => {
    const out = createWriteStream(path.join(dir, 'log', `${name}.out`), { flags: 'a' });
    const child = spawn(tool, [...c, ...args, '-f'], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    child.benchName = name;
    daemons.push(child);
    return child;
  };
  const logs = () => {
    let text = '';
    for (const name of ['mon.out', 'osd0.out', 'rgw.out', 'client.rgw.a.log']) {
      let content = '';
      try {
        content = readFileSync(path.join(dir, 'log', name), 'utf8');
      } catch { /* not written */ }
      if (content) text += `--- ${name}\n${content.split('\n').slice(-15).join('\n')}\n`;
    }
    return text;
  };
  const killNow = () => {
    for (const d of daemons) if (d.exitCode === null && d.signalCode === null) d.kill('SIGKILL');
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  const stop = async () => {
    for (const d of [...daemons].reverse()) {
      if (d.exitCode !== null || d.signalCode !== null) continue;
      const exited = new Promise((r) => d.once('exit', r));
      d.kill('SIGTERM');
      const t = setTimeout(() => d.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    if (!keep) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };

  try {
    await run('ceph-authtool', ['--create-keyring', path.join(dir, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await run('monmaptool', ['--create', '--add', 'a', `v1:127.0.0.1:${monPort}`, '--fsid', fsid, path.join(dir, 'monmap')]);
    await run('ceph-mon', [...c, '--mkfs', '-i', 'a', '--monmap', path.join(dir, 'monmap'), '--keyring', path.join(dir, 'keyring')]);
    daemon('ceph-mon', ['-i', 'a'], 'mon');
    await until('monitor', async () => (await run('ceph', [...c, '--connect-timeout', '5', 'mon', 'stat'], 10_000), true), 60_000, logs);

    const osdUuid = randomUUID();
    const id = (await run('ceph', [...c, 'osd', 'new', osdUuid], 30_000)).trim();
    if (id !== '0') throw new Error(`ceph: expected OSD id 0, got ${id}`);
    await run('ceph-osd', [...c, '-i', '0', '--mkfs', '--osd-uuid', osdUuid], 120_000);
    // ceph-osd sometimes exits right after starting ("wrong fsid": its first monitor command
    // left before it had the monitor map); starting it again is enough (test/support/ceph.ts).
    let osd = daemon('ceph-osd', ['-i', '0'], 'osd0');
    let osdStarts = 1;
    await until(
      'OSD',
      async () => {
        if (osd.exitCode !== null || osd.signalCode !== null) {
          if (osdStarts < 5) {
            osd = daemon('ceph-osd', ['-i', '0'], 'osd0');
            osdStarts++;
          }
          return false;
        }
        return JSON.parse(await run('ceph', [...c, 'osd', 'stat', '-f', 'json'], 10_000)).num_up_osds === 1;
      },
      90_000,
      logs,
    );

    daemon('radosgw', ['-n', 'client.rgw.a'], 'rgw');
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await until('radosgw', () => statusOf(endpoint).then((s) => s === 200), 120_000, logs);
    await run('radosgw-admin', [...c, 'user', 'create', '--uid=berth-bench', '--display-name=berth-bench', `--access-key=${BENCH_S3_ACCESS_KEY}`, `--secret=${BENCH_S3_SECRET_KEY}`]);
    return {
      conf,
      endpoint,
      accessKeyId: BENCH_S3_ACCESS_KEY,
      secretAccessKey: BENCH_S3_SECRET_KEY,
      dir,
      /** { mon, osd0, rgw } → pid */
      pids: Object.fromEntries(daemons.map((d) => [d.benchName, d.pid])),
      stop,
      killNow,
    };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

/**
 * For development: `node bench/lib/ceph.mjs FILE` starts a cluster, writes what the runner's
 * `--radosgw FILE` needs into FILE and keeps it running until interrupted, so repeated
 * benchmark runs skip the start-up.
 */
if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node bench/lib/ceph.mjs INFO_FILE\n');
    process.exit(2);
  }
  const rgw = await startRadosgw({ log: (m) => process.stderr.write(`${m}\n`) });
  const { stop: _stop, killNow: _killNow, ...info } = rgw;
  writeFileSync(file, `${JSON.stringify(info, null, 2)}\n`);
  process.stderr.write(`radosgw at ${rgw.endpoint}; details in ${file}; Ctrl-C stops it\n`);
  const bye = async () => {
    await rgw.stop();
    rmSync(file, { force: true });
    process.exit(0);
  };
  process.on('SIGINT', bye);
  process.on('SIGTERM', bye);
}
