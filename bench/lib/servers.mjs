// Starting, probing and stopping the servers under test on loopback.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, openSync, closeSync, rmSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { URLSearchParams } from 'node:url';
import { freePort } from '../../scripts/lib/free-port.mjs';
import { request, newAgent, HttpError } from './http.mjs';

export const REGISTRY_NAME = 'bench';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tail(file, lines = 40) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Reads a `Vm*` line of /proc/<pid>/status in KiB. */
export function procStatusKiB(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

let ticks = null;
function clockTicks() {
  if (ticks === null) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** utime+stime of a process in seconds. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return null;
  }
}

/** Busy CPU seconds of the whole machine so far (all CPUs, from /proc/stat). */
export function machineBusySeconds() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f;
    return (user + nice + system + irq + softirq + (steal || 0)) / clockTicks();
  } catch {
    return null;
  }
}

/** Child processes of pid (threads' children included). */
export function childPids(pid) {
  const out = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const s = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (s) out.push(...s.split(/\s+/).map(Number));
    }
  } catch { /* gone */ }
  return out;
}

class Server {
  constructor(name, dir, logFile, keep) {
    this.name = name;
    this.dir = dir;
    this.logFile = logFile;
    this.keep = keep;
    this.proc = null;
    this.exited = null;
  }

  get pid() {
    return this.proc?.pid;
  }

  spawnLogged(cmd, args, opts) {
    const fd = openSync(this.logFile, 'a');
    this.proc = spawn(cmd, args, { ...opts, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.exitPromise = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exited = { code, signal };
        resolve(this.exited);
      });
      this.proc.on('error', (e) => {
        this.exited = { error: e.message };
        resolve(this.exited);
      });
    });
  }

  async waitReady(url, timeoutMs = 30_000) {
    const agent = newAgent(1);
    const deadline = Date.now() + timeoutMs;
    let last = '';
    try {
      while (Date.now() < deadline) {
        if (this.exited) {
          throw new Error(`${this.name} exited during start-up (${JSON.stringify(this.exited)}); log tail:\n${tail(this.logFile)}`);
        }
        try {
          const res = await request({ url, agent, read: 'discard', timeoutMs: 2000 });
          if (res.status === 200) return;
          last = `HTTP ${res.status}`;
        } catch (e) {
          last = e.message;
        }
        await sleep(100);
      }
    } finally {
      agent.destroy();
    }
    throw new Error(`${this.name} not ready after ${timeoutMs} ms (GET ${url}: ${last}); log tail:\n${tail(this.logFile)}`);
  }

  /** Asserts the process is still alive; throws with the log tail otherwise. */
  assertAlive() {
    if (this.exited) throw new Error(`${this.name} process died (${JSON.stringify(this.exited)}); log tail:\n${tail(this.logFile)}`);
  }

  logTail(lines) {
    return tail(this.logFile, lines);
  }

  async stop() {
    if (this.proc && !this.exited) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => { if (!this.exited) this.proc.kill('SIGKILL'); }, 10_000);
      await this.exitPromise;
      clearTimeout(t);
    }
    if (!this.keep) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Kill without waiting (used from exit handlers). */
  killNow() {
    if (this.proc && !this.exited) this.proc.kill('SIGKILL');
    if (!this.keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * CNCF Distribution (docker-registry) without auth, on the filesystem or, given `s3`, on its
 * own S3 driver. On S3 its blob server answers GET and HEAD with 307 to a presigned URL unless
 * told not to (`storage.redirect.disable`, the default since 2.0): `s3.redirect` says which.
 */
export async function startDistribution({ bin = '/usr/bin/docker-registry', keep = false, s3 = null } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-distribution-'));
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const storage = s3
    ? [
      '  s3:',
      '    region: us-east-1',
      `    regionendpoint: ${s3.endpoint}`,
      `    bucket: ${s3.bucket}`,
      `    accesskey: ${s3.accessKeyId}`,
      `    secretkey: ${s3.secretAccessKey}`,
      '    secure: false',
      '    v4auth: true',
      `    chunksize: ${s3.chunkSize}`,
      '  redirect:',
      `    disable: ${s3.redirect ? 'false' : 'true'}`,
    ]
    : ['  filesystem:', `    rootdirectory: ${path.join(dir, 'data')}`];
  writeFileSync(config, [
    'version: 0.1',
    'log:',
    '  level: error',
    'storage:',
    ...storage,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n'));
  const s = new Server('distribution', dir, path.join(dir, 'server.log'), keep);
  // Go's S3 client fails on this machine's AWS_CA_BUNDLE (and needs none for http://).
  s.spawnLogged(bin, ['serve', config], { env: withoutCaBundle(process.env) });
  s.registryBase = `http://127.0.0.1:${port}`;
  try {
    await s.waitReady(`${s.registryBase}/v2/`);
  } catch (e) {
    s.killNow();
    throw e;
  }
  s.authorize = async () => null;
  return s;
}

function withoutCaBundle(env) {
  const { AWS_CA_BUNDLE: _ignored, ...rest } = env;
  return rest;
}

/**
 * Berth from <root>/dist/main.js with a bootstrap token, and one registry named "bench".
 * authorize(repo) fetches a pull,push JWT from the token service (one HTTP exchange, not timed).
 */
export async function startBerth({ root, keep = false, logLevel = 'warn', s3 = null, nodeArgs = [] }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-berth-'));
  const apiPort = await freePort();
  const regPort = await freePort();
  const token = `dop_v1_${randomBytes(32).toString('hex')}`;
  const s = new Server('berth', dir, path.join(dir, 'server.log'), keep);
  const args = [
    ...nodeArgs,
    path.join(root, 'dist', 'main.js'), 'serve',
    '--data-dir', path.join(dir, 'data'),
    '--api-listen', `127.0.0.1:${apiPort}`,
    '--registry-listen', `127.0.0.1:${regPort}`,
    '--log-level', logLevel,
  ];
  let env = { ...process.env, BERTH_BOOTSTRAP_TOKEN: token };
  if (s3) {
    // Metadata stays in SQLite under the data dir (one node needs no PostgreSQL); blobs go to
    // the bucket, credentials through the AWS SDK's default chain, as in production.
    const q = new URLSearchParams({ endpoint: s3.endpoint, region: 'us-east-1', 'force-path-style': 'true' });
    args.push('--storage-url', `s3://${s3.bucket}/berth?${q}`);
    if (s3.redirect) args.push('--storage-redirect');
    env = { ...withoutCaBundle(env), AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
  }
  s.spawnLogged(process.execPath, args, { cwd: dir, env });
  s.apiBase = `http://127.0.0.1:${apiPort}`;
  s.registryBase = `http://127.0.0.1:${regPort}`;
  s.service = `127.0.0.1:${regPort}`;
  s.apiToken = token;
  try {
    await s.waitReady(`${s.apiBase}/healthz`);
    const agent = newAgent(1);
    try {
      await request({
        method: 'POST',
        url: `${s.apiBase}/v2/registries`,
        agent,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: REGISTRY_NAME, subscription_tier_slug: 'professional' }),
        expect: [201],
      });
    } finally {
      agent.destroy();
    }
  } catch (e) {
    s.killNow();
    throw e;
  }
  s.authorize = async (repo, agent) => {
    const u = new URL('/auth/token', s.registryBase);
    u.searchParams.set('service', s.service);
    u.searchParams.set('scope', `repository:${repo}:pull,push`);
    const res = await request({
      url: u,
      agent,
      headers: { Authorization: `Basic ${Buffer.from(`bench:${token}`).toString('base64')}` },
      expect: [200],
    });
    let doc;
    try {
      doc = JSON.parse(res.body.toString('utf8'));
    } catch {
      doc = null;
    }
    if (!doc || typeof doc.token !== 'string' || !doc.token) {
      throw new HttpError('token response has no "token" string', { ...res.info, responseBody: res.body.toString('utf8').slice(0, 2000) });
    }
    return `Bearer ${doc.token}`;
  };
  return s;
}
