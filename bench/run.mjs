#!/usr/bin/env node
// Berth vs CNCF Distribution benchmark. See bench/README.md.
import { parseArgs } from 'node:util';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCENARIOS, config, findScenario } from './lib/scenarios.mjs';
import { RegistryClient } from './lib/registry.mjs';
import { describeError } from './lib/http.mjs';
import { startBerth, startDistribution, procStatusKiB, cpuSeconds, childPids, machineBusySeconds } from './lib/servers.mjs';
import { startRadosgw } from './lib/ceph.mjs';
import { createBucket, usageByBucket, usageDelta } from './lib/s3.mjs';

// The AWS SDK's Node 22 notice, printed for every client the runner makes, says nothing here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RSS_GOAL_MIB = 200;
const running = new Set(); // servers started by this process

const USAGE = `usage: node bench/run.mjs [options]   (or: npm run bench -- [options])

  --storage fs|s3      where both servers keep blobs (default fs): the local disk, or buckets on
                       a throw-away Ceph radosgw started for the run (Berth's S3 driver against
                       Distribution's own; adds the pull-redirect scenario)
  --only LIST          comma-separated scenarios: ${SCENARIOS.map((s) => s.id).join(', ')}
  --quick              small sizes and short durations, for development
  --only-distribution  skip Berth (no build)
  --only-berth         skip Distribution
  --no-build           do not run \`npm run build\` before starting Berth
  --reps N             repetitions per scenario (default: 5 for blobs and tags/list, 3 for concurrent)
  --duration SECONDS   duration of each concurrent repetition (default 5)
  --keep               keep the servers' temporary data directories and logs
  --out FILE           JSON results (default bench/results/latest.json, latest-s3.json with --storage s3)
  --distribution-chunksize BYTES
                       S3 mode: Distribution's multipart part size (default 10485760, its own default)
  --radosgw FILE       S3 mode: use the running radosgw described in FILE (written by
                       \`node bench/lib/ceph.mjs FILE\`) instead of starting one
  --berth-cpu-prof DIR write a V8 CPU profile of each Berth process into DIR (node --cpu-prof)
  --stat median|best   which repetition the table shows (default median, with the range of all
                       repetitions; best: other load only ever slows a run down)
  --distribution-bin P docker-registry binary (default /usr/bin/docker-registry)
  --berth-root DIR     Berth checkout to build and run (default: this repository)
  -h, --help`;

function parse() {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'only-distribution': { type: 'boolean', default: false },
      'only-berth': { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      reps: { type: 'string' },
      duration: { type: 'string' },
      keep: { type: 'boolean', default: false },
      out: { type: 'string' },
      storage: { type: 'string', default: 'fs' },
      'distribution-chunksize': { type: 'string', default: String(10 * 2 ** 20) },
      'berth-cpu-prof': { type: 'string' },
      radosgw: { type: 'string' },
      'distribution-bin': { type: 'string', default: '/usr/bin/docker-registry' },
      'berth-root': { type: 'string', default: ROOT },
      stat: { type: 'string', default: 'median' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  return values;
}

const log = (msg) => process.stderr.write(`${msg}\n`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main() {
  let opts;
  try {
    opts = parse();
  } catch (e) {
    log(`${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  if (!['fs', 's3'].includes(opts.storage)) return usageError('--storage must be fs or s3');
  const s3Mode = opts.storage === 's3';
  opts.out ??= path.join(ROOT, 'bench', 'results', s3Mode ? 'latest-s3.json' : 'latest.json');
  const distChunk = Number(opts['distribution-chunksize']);
  if (!(Number.isInteger(distChunk) && distChunk >= 5 * 2 ** 20)) return usageError('--distribution-chunksize must be a whole number of bytes, at least 5 MiB (S3\'s part minimum)');
  const cfg = config(opts.quick);
  cfg.storage = opts.storage;
  if (opts.reps) {
    const n = Number(opts.reps);
    if (!(n >= 1)) return usageError('--reps must be a positive integer');
    cfg.blobReps = cfg.concReps = cfg.tagReps = Math.floor(n);
  }
  if (opts.duration) {
    const d = Number(opts.duration);
    if (!(d > 0)) return usageError('--duration must be a positive number of seconds');
    cfg.durationMs = d * 1000;
  }
  if (!['best', 'median'].includes(opts.stat)) return usageError('--stat must be best or median');
  let selected = SCENARIOS.filter((s) => !s.storage || s.storage === opts.storage);
  if (opts.only) {
    selected = [];
    for (const name of opts.only.split(',').map((s) => s.trim()).filter(Boolean)) {
      const s = findScenario(name);
      if (!s) return usageError(`unknown scenario "${name}"`);
      if (s.storage && s.storage !== opts.storage) return usageError(`scenario "${s.id}" needs --storage ${s.storage}`);
      if (!selected.includes(s)) selected.push(s);
    }
    selected = SCENARIOS.filter((s) => selected.includes(s));
  }
  if (opts['only-distribution'] && opts['only-berth']) return usageError('--only-distribution and --only-berth exclude each other');
  const targets = [...(opts['only-distribution'] ? [] : ['berth']), ...(opts['only-berth'] ? [] : ['distribution'])];

  const loadStart = os.loadavg();
  const began = performance.now();
  const errors = [];
  const rows = [];
  for (const s of selected) {
    for (const r of s.rows(cfg)) {
      const row = { scenario: s.id, key: r.key, title: r.title, unit: r.unit, better: r.better, msKey: r.msKey, aggregate: r.aggregate, cpuField: r.cpuField, itemField: r.itemField };
      for (const t of targets) row[t] = { runs: [], value: null, error: null };
      rows.push(row);
    }
  }
  const extras = {}; // scenario → target → { cpuSeconds, vmHwmMiB, details }

  // Berth build.
  let berthUnavailable = null;
  const berthRoot = path.resolve(opts['berth-root']);
  if (targets.includes('berth')) {
    if (!opts['no-build']) {
      log('building Berth (npm run build)…');
      const b = spawnSync('npm', ['run', 'build'], { cwd: berthRoot, encoding: 'utf8' });
      if (b.status !== 0) {
        berthUnavailable = `npm run build failed (exit ${b.status}):\n${`${b.stdout}\n${b.stderr}`.trim().split('\n').slice(-30).join('\n')}`;
      }
    }
    if (!berthUnavailable && !existsSync(path.join(berthRoot, 'dist', 'main.js'))) berthUnavailable = `${path.join(berthRoot, 'dist', 'main.js')} does not exist`;
    if (berthUnavailable) log(`Berth unavailable: ${berthUnavailable}`);
  }

  const onSignal = (sig) => {
    for (const s of running) s.killNow();
    log(`\ninterrupted (${sig})`);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // S3 mode: one throw-away radosgw for the whole run; every server gets a bucket of its own.
  let rgw = null;
  if (s3Mode && opts.radosgw) {
    rgw = { ...JSON.parse(readFileSync(opts.radosgw, 'utf8')), stop: async () => undefined, killNow: () => undefined };
    log(`using the radosgw at ${rgw.endpoint} (${opts.radosgw})`);
  } else if (s3Mode) {
    log('starting a throw-away Ceph radosgw…');
    const t0 = performance.now();
    rgw = await startRadosgw({ keep: opts.keep, log });
    running.add(rgw);
    log(`radosgw ready at ${rgw.endpoint} in ${((performance.now() - t0) / 1000).toFixed(1)} s (pids ${JSON.stringify(rgw.pids)})`);
  }
  const storagePids = rgw ? Object.values(rgw.pids) : [];
  const storageCpu = () => (rgw ? storagePids.reduce((a, p) => a + (cpuSeconds(p) ?? 0), 0) : null);
  let buckets = 0;
  let profiles = 0;
  if (opts['berth-cpu-prof']) mkdirSync(opts['berth-cpu-prof'], { recursive: true });

  const starters = {
    berth: async (s3) => {
      if (berthUnavailable) throw new Error(`Berth unavailable: ${berthUnavailable}`);
      const nodeArgs = opts['berth-cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(opts['berth-cpu-prof']), '--cpu-prof-name', `berth-${++profiles}.cpuprofile`] : [];
      return startBerth({ root: berthRoot, keep: opts.keep, s3, nodeArgs });
    },
    distribution: (s3) => startDistribution({ bin: opts['distribution-bin'], keep: opts.keep, s3: s3 && { ...s3, chunkSize: distChunk } }),
  };

  /** Starts target `t`; in S3 mode on a new bucket, redirecting blob GETs when `variant` is 'redirect'. */
  async function start(t, variant) {
    try {
      let s3 = null;
      if (rgw) {
        s3 = { endpoint: rgw.endpoint, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, bucket: `bench-${t}-${++buckets}`, redirect: variant === 'redirect' };
        await createBucket(rgw, s3.bucket);
      }
      const s = await starters[t](s3);
      s.bucket = s3?.bucket;
      running.add(s);
      log(`${t} ready: registry ${s.registryBase} (pid ${s.pid})${s3 ? ` on bucket ${s3.bucket}${s3.redirect ? ', redirecting blob GETs' : ''}` : ''}`);
      return { server: s };
    } catch (e) {
      return { error: e };
    }
  }
  async function stop(s) {
    if (!s) return;
    await s.stop();
    running.delete(s);
  }

  function fail(scenario, t, err, server) {
    let message = describeError(err);
    if (server?.exited) message += `\n${t} process exited (${JSON.stringify(server.exited)}); log tail:\n${server.logTail(40)}`;
    for (const row of rows) if (row.scenario === scenario.id && !row[t].error) row[t].error = message;
    const repeated = errors.some((e) => e.target === t && e.message === message);
    errors.push({ scenario: scenario.id, target: t, message });
    if (repeated) log(`!! ${scenario.id} / ${t} FAILED: ${message.split('\n')[0]} (same error as above)`);
    else log(`\n!! ${scenario.id} / ${t} FAILED:\n${message.replace(/^/gm, '   ')}\n`);
  }

  async function runScenario(scenario, servers) {
    const reps = scenario.reps(cfg);
    const sockets = typeof scenario.sockets === 'function' ? scenario.sockets(cfg) : scenario.sockets;
    const ctx = {};
    extras[scenario.id] ??= {};
    const clientKey = Object.keys(servers).length === 1 ? `client_${Object.keys(servers)[0]}` : 'client';
    log(`\n== ${scenario.id}: ${scenario.rows(cfg).map((r) => r.title).join(' / ')}`);
    for (const t of Object.keys(servers)) {
      const { server, error } = servers[t];
      if (!server) {
        fail(scenario, t, error);
        continue;
      }
      if (server.exited) {
        fail(scenario, t, new Error(`${t} is not running`), server);
        continue;
      }
      const client = new RegistryClient(server, scenario.repo, sockets);
      ctx[t] = { server, client, failed: false };
      try {
        await client.login();
        const t0 = performance.now();
        ctx[t].state = scenario.setup ? await scenario.setup(client, cfg) : undefined;
        if (scenario.setup) log(`   ${t}: setup ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        ctx[t].cpu0 = cpuSeconds(server.pid);
      } catch (e) {
        ctx[t].failed = true;
        fail(scenario, t, e, server);
      }
    }
    const order = Object.keys(ctx);
    const usage0 = rgw ? await usageByBucket(rgw).catch(() => null) : null;
    const clientCpu0 = process.cpuUsage();
    const wall0 = performance.now();
    for (let rep = 0; rep < reps; rep++) {
      for (const t of rep % 2 ? [...order].reverse() : order) {
        const c = ctx[t];
        if (c.failed) continue;
        settle();
        try {
          // A fresh token each repetition (untimed): on S3 the other server's setup and runs can
          // outlast a read token's lifetime.
          await c.client.login();
          const probe = loadProbe([...Object.values(ctx).map((x) => x.server.pid), ...storagePids]);
          const serverCpu0 = cpuSeconds(c.server.pid);
          const storageCpu0 = storageCpu();
          const r = await scenario.run(c.client, c.state, cfg, c.server);
          const serverCpu1 = cpuSeconds(c.server.pid);
          const storageCpu1 = storageCpu();
          r.otherLoad = probe();
          if (serverCpu0 != null && serverCpu1 != null) r.serverCpuSeconds = +(serverCpu1 - serverCpu0).toFixed(2);
          if (storageCpu0 != null && storageCpu1 != null) r.storageCpuSeconds = +(storageCpu1 - storageCpu0).toFixed(2);
          if (r.bytes && r.serverCpuSeconds != null) r.cpuPerGiB = r.serverCpuSeconds / (r.bytes / 2 ** 30);
          if (r.bytes && r.storageCpuSeconds != null) r.storageCpuPerGiB = r.storageCpuSeconds / (r.bytes / 2 ** 30);
          if (r.images && r.serverCpuSeconds != null) r.cpuMsPerImage = (r.serverCpuSeconds * 1000) / r.images;
          const shown = [];
          for (const row of rows.filter((x) => x.scenario === scenario.id)) {
            row[t].runs.push(r);
            shown.push(`${fmt(r[row.key], row)}${row.msKey ? ` (${r[row.msKey].toFixed(1)} ms)` : ''} ${row.unit}`);
          }
          const noise = r.otherLoad == null ? '' : `   [other load on the machine: ${(r.otherLoad * 100).toFixed(0)}% of ${os.cpus().length} CPUs]`;
          log(`   ${t.padEnd(12)} rep ${rep + 1}/${reps}: ${shown.join(', ')}${noise}`);
        } catch (e) {
          c.failed = true;
          fail(scenario, t, e, c.server);
        }
      }
    }
    const clientCpu = process.cpuUsage(clientCpu0);
    const usage1 = usage0 ? await usageByBucket(rgw).catch(() => null) : null;
    extras[scenario.id][clientKey] = {
      cpuSeconds: +((clientCpu.user + clientCpu.system) / 1e6).toFixed(2),
      wallSeconds: +((performance.now() - wall0) / 1000).toFixed(2),
    };
    for (const t of order) {
      const c = ctx[t];
      c.client.close();
      const cpu1 = cpuSeconds(c.server.pid);
      extras[scenario.id][t] = {
        serverCpuSeconds: c.cpu0 != null && cpu1 != null ? +(cpu1 - c.cpu0).toFixed(2) : null,
        serverVmHwmMiB: kibToMiB(procStatusKiB(c.server.pid, 'VmHWM')),
        serverChildren: childPids(c.server.pid).length,
        ...(usage1 && c.server.bucket ? { bucket: c.server.bucket, s3Requests: usageDelta(usage0[c.server.bucket], usage1[c.server.bucket]) } : {}),
      };
    }
  }

  // Scenarios sharing one long-lived pair of servers per variant (S3: redirecting or not).
  const variants = [...new Set(selected.filter((s) => !s.fresh).map((s) => s.variant ?? 'default'))];
  for (const variant of variants) {
    const shared = selected.filter((s) => !s.fresh && (s.variant ?? 'default') === variant);
    const started = await Promise.all(targets.map((t) => start(t, variant)));
    const servers = Object.fromEntries(targets.map((t, i) => [t, started[i]]));
    for (const s of shared) await runScenario(s, servers);
    for (const t of targets) {
      const s = servers[t].server;
      if (s) {
        extras.overall ??= {};
        extras.overall[variant === 'default' ? t : `${t}_${variant}`] = { vmHwmMiBAfterAllSharedScenarios: kibToMiB(procStatusKiB(s.pid, 'VmHWM')), cpuSeconds: cpuSeconds(s.pid) };
      }
      await stop(s);
    }
  }
  // Scenarios that need a fresh process (peak RSS): one server at a time.
  for (const s of selected.filter((x) => x.fresh)) {
    for (const t of targets) {
      const started = await start(t, s.variant);
      try {
        await runScenario(s, { [t]: started });
      } finally {
        await stop(started.server);
      }
    }
  }

  for (const row of rows) {
    for (const t of targets) {
      const r = row[t];
      if (!r.error && r.runs.length) {
        const vals = r.runs.map((x) => x[row.key]);
        r.median = median(vals);
        r.best = row.better === 'lower' ? Math.min(...vals) : Math.max(...vals);
        r.value = opts.stat === 'median' ? r.median : r.best;
        if (row.aggregate === 'cpuPerGiB') {
          const cpu = r.runs.reduce((a, x) => a + (x[row.cpuField] ?? 0), 0);
          const gib = r.runs.reduce((a, x) => a + (x.bytes ?? 0), 0) / 2 ** 30;
          r.value = gib > 0 ? cpu / gib : null;
        } else if (row.aggregate === 'cpuPerItem') {
          const cpu = r.runs.reduce((a, x) => a + (x[row.cpuField] ?? 0), 0);
          const items = r.runs.reduce((a, x) => a + (x[row.itemField] ?? 0), 0);
          r.value = items > 0 ? (cpu * 1000) / items : null;
        }
        // Spread across repetitions, to say how noisy the figure is.
        r.min = Math.min(...vals);
        r.max = Math.max(...vals);
        if (row.msKey) {
          const ms = r.runs.map((x) => x[row.msKey]);
          r.ms = opts.stat === 'median' ? median(ms) : Math.min(...ms);
        }
        const loads = r.runs.map((x) => x.otherLoad).filter((x) => x != null);
        if (loads.length) r.otherLoadMean = +(loads.reduce((a, b) => a + b, 0) / loads.length).toFixed(3);
      }
    }
    if (row.berth?.value != null && row.distribution?.value != null) row.ratio = row.berth.value / row.distribution.value;
  }

  const notes = buildNotes(rows, cfg, targets, extras);
  if (rgw) notes.unshift(...s3Notes(selected, targets, extras, rows, distChunk));
  const machine = machineInfo(loadStart);
  const table = markdown(rows, targets, notes, opts.stat, opts.storage, machine);
  const elapsed = (performance.now() - began) / 1000;
  console.log(`\n${table}\n`);
  log(`total time ${elapsed.toFixed(0)} s`);

  const out = {
    generated_at: new Date().toISOString(),
    elapsed_seconds: +elapsed.toFixed(1),
    quick: opts.quick,
    config: cfg,
    storage: opts.storage,
    machine,
    versions: { distribution: versionOf(opts['distribution-bin']), berth: gitHead(berthRoot), ...(rgw ? { radosgw: versionOf('radosgw') } : {}) },
    targets,
    monolithic_flow: 'POST /v2/<name>/blobs/uploads/ → 202 Location; PUT <location>&digest=<d> with the whole body (Content-Length set) → 201 (containerd\'s flow)',
    rows: rows.map(({ msKey: _msKey, cpuField: _cpuField, itemField: _itemField, ...r }) => r),
    server_stats: extras,
    notes,
    errors,
    markdown: table,
  };
  if (rgw) {
    running.delete(rgw);
    await rgw.stop();
  }
  mkdirSync(path.dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(out, null, 2)}\n`);
  log(`results written to ${path.relative(process.cwd(), opts.out) || opts.out}`);
  if (errors.length) {
    log(`${errors.length} failure(s): ${errors.map((e) => `${e.scenario}/${e.target}`).join(', ')}`);
    return 1;
  }
  return 0;
}

/**
 * Starts measuring CPU used on the machine by anything but this process and `pids`;
 * the returned function gives that as a fraction of all CPUs over the elapsed time.
 */
function loadProbe(pids) {
  const ours = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6 + pids.reduce((a, p) => a + (cpuSeconds(p) ?? 0), 0);
  };
  const busy0 = machineBusySeconds();
  const ours0 = ours();
  const t0 = performance.now();
  return () => {
    const busy1 = machineBusySeconds();
    const secs = (performance.now() - t0) / 1000;
    if (busy0 == null || busy1 == null || secs <= 0) return null;
    const other = (busy1 - busy0) - (ours() - ours0);
    return +Math.max(0, other / (secs * os.cpus().length)).toFixed(3);
  };
}

/** Flushes dirty pages (untimed) so one server's writes are not paid for by the next run. */
function settle() {
  spawnSync('sync', [], { stdio: 'ignore' });
}

function usageError(msg) {
  log(`${msg}\n\n${USAGE}`);
  return 2;
}

function kibToMiB(k) {
  return k == null ? null : +(k / 1024).toFixed(1);
}

function fmt(v, row) {
  if (v == null || Number.isNaN(v)) return '—';
  switch (row.unit) {
    case 'req/s': return v.toFixed(0);
    case 'listings/s': return v.toFixed(2);
    case 'CPU-s/GiB': return v.toFixed(3);
    case 'CPU-ms/image': return v.toFixed(2);
    case 'ms': return v.toFixed(2);
    default: return v.toFixed(1);
  }
}

function cell(row, t) {
  const r = row[t];
  if (!r) return 'n/a';
  if (r.error) return 'FAILED';
  if (r.value == null) return '—';
  const spread = !row.aggregate && !row.msKey && r.runs.length > 1 ? ` (${fmt(r.min, row)}–${fmt(r.max, row)})` : '';
  return `${fmt(r.value, row)}${row.msKey ? ` (${r.ms.toFixed(1)} ms)` : ''}${spread}`;
}

function markdown(rows, targets, notes, stat, storage, machine) {
  const head = ['#', 'Scenario', 'Unit', ...targets.map((t) => (t === 'berth' ? 'Berth' : 'Distribution 2.8.2'))];
  if (targets.length === 2) head.push('Berth ÷ Distribution');
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i >= 3 ? '---:' : '---')).join('|')}|`];
  rows.forEach((row, i) => {
    const unit = row.better === 'lower' ? `${row.unit} (lower is better)` : row.unit;
    const cols = [String(i + 1), row.title, unit, ...targets.map((t) => cell(row, t))];
    if (targets.length === 2) cols.push(row.ratio != null ? `${row.ratio.toFixed(2)}×` : '—');
    lines.push(`| ${cols.join(' | ')} |`);
  });
  lines.unshift(`Storage: ${storage === 's3' ? 'S3 (one throw-away Ceph radosgw on loopback, a bucket per server)' : 'filesystem (local disk)'}. Machine: ${machine.model}, ${machine.cpus} cores, ${machine.mem_gib} GiB RAM, Linux ${machine.kernel}, Node ${machine.node}; load average ${machine.loadavg_start.join(' ')} at start.`, '');
  lines.push('', `Figures are the ${stat === 'median' ? 'median' : 'best'} of the repetitions, with the range of all repetitions in brackets (every run is in the JSON results); ratios above 1 favour Berth except in rows marked "lower is better", where below 1 does. CPU rows are totals over every repetition, not one run.`);
  for (const n of notes) lines.push(`- ${n}`);
  return lines.join('\n');
}

function buildNotes(rows, cfg, targets, extras) {
  const notes = [];
  const rss = rows.find((r) => r.scenario === 'rss');
  if (rss?.berth?.value != null) {
    const full = cfg.rssSize >= 2 ** 30;
    const verdict = rss.berth.value <= RSS_GOAL_MIB ? 'within' : 'ABOVE';
    notes.push(`Berth peak RSS ${rss.berth.value.toFixed(1)} MiB: ${verdict} the ${RSS_GOAL_MIB} MiB goal${full ? '' : ' (quick mode: smaller blob)'}; baseline VmHWM before the push ${rss.berth.runs[0].baselineHwmMiB.toFixed(1)} MiB.`);
  }
  if (rss?.distribution?.value != null) {
    notes.push(`Distribution peak RSS ${rss.distribution.value.toFixed(1)} MiB (baseline ${rss.distribution.runs[0].baselineHwmMiB.toFixed(1)} MiB).`);
  }
  for (const t of targets) {
    const x = extras.rss?.[t];
    if (x?.serverChildren) notes.push(`${t}: the server process had ${x.serverChildren} child process(es); VmHWM covers only the main process.`);
  }
  const loads = rows.flatMap((r) => targets.flatMap((t) => r[t].runs.map((x) => x.otherLoad))).filter((x) => x != null);
  if (loads.length) {
    const mean = loads.reduce((a, b) => a + b, 0) / loads.length;
    const max = Math.max(...loads);
    notes.push(`Other load on the machine during timed runs: mean ${(mean * 100).toFixed(0)}%, max ${(max * 100).toFixed(0)}% of ${os.cpus().length} CPUs${mean > 0.1 ? ' — the machine was shared; expect noise' : ''}.`);
  }
  const paged = rows.find((r) => r.scenario === 'tags' && r.key === 'paged');
  for (const t of targets) {
    const runs = paged?.[t]?.runs ?? [];
    if (runs.length && runs.some((r) => !r.paginationHonoured)) {
      notes.push(`${t} ignores n on tags/list (no pagination): the "paginated" walk took ${runs[0].pagedRequests} request(s).`);
    }
    const full = rows.find((r) => r.scenario === 'tags' && r.key === 'full')?.[t]?.runs ?? [];
    if (full.length && full[0].fullRequests > 1) notes.push(`${t} paginates tags/list without n: a full listing took ${full[0].fullRequests} requests.`);
    if (full.length) notes.push(`${t}: tag setup ran at ${full[0].setupTagsPerSec.toFixed(0)} manifest PUTs/s (${cfg.tagSetupConcurrency} clients).`);
  }
  return notes;
}

function machineInfo(loadStart) {
  const round = (xs) => xs.map((x) => +x.toFixed(2));
  return {
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model,
    mem_gib: +(os.totalmem() / 2 ** 30).toFixed(1),
    kernel: os.release(),
    node: process.version,
    loadavg_start: round(loadStart),
    loadavg_end: round(os.loadavg()),
  };
}

/** What the S3 mode compares, and each server's S3 request pattern per unit of work. */
function s3Notes(selected, targets, extras, rows, distChunk) {
  const notes = [
    'Distribution 2.8.2 on S3 answers blob GET and HEAD with 307 to a presigned URL unless `storage.redirect.disable` is set (redirects are on by default). The pull row runs it with redirects disabled and Berth without `--storage-redirect`, so both stream the bytes from radosgw themselves; the pull-redirect row runs a second pair of servers, Berth with `--storage-redirect` against Distribution\'s default, both on buckets of their own.',
    `Berth: SQLite metadata, S3 blobs (multipart parts of its default size); Distribution: its s3 driver with chunksize ${distChunk / 2 ** 20} MiB, path-style through regionendpoint, run without AWS_CA_BUNDLE (Berth too).`,
    'radosgw + OSD CPU is charged to the server whose timed run was in progress (runs never overlap); the servers share the store, so its figure shows what each one makes it do, not a cost either server pays itself.',
  ];
  const per = {
    push: ['repetition', (r) => r.length],
    chunked: ['repetition', (r) => r.length],
    pull: ['repetition', (r) => r.length],
    'pull-redirect': ['repetition', (r) => r.length],
    small: ['image', (r) => r.reduce((a, x) => a + (x.images ?? 0), 0)],
    manifests: ['request', (r) => r.reduce((a, x) => a + (x.requests ?? 0), 0)],
  };
  for (const s of selected) {
    const unit = per[s.id];
    if (!unit) continue;
    const parts = [];
    for (const t of targets) {
      const reqs = extras[s.id]?.[t]?.s3Requests;
      const runs = rows.find((r) => r.scenario === s.id)?.[t]?.runs ?? [];
      const n = unit[1](runs);
      if (!reqs || !n) continue;
      // The untimed setup (and warm-up) is in these counts too; per unit they are close enough to
      // show the pattern, and the JSON has the raw counts.
      const total = Object.values(reqs).reduce((a, x) => a + x.ops, 0);
      const top = Object.entries(reqs).sort((a, b) => b[1].ops - a[1].ops).slice(0, 6).map(([k, v]) => `${k} ${(v.ops / n).toFixed(v.ops / n < 10 ? 1 : 0)}`);
      parts.push(`${t === 'berth' ? 'Berth' : 'Distribution'} ${(total / n).toFixed(1)} (${top.join(', ')})`);
    }
    if (parts.length) notes.push(`S3 requests per ${unit[0]} in ${s.id} (radosgw usage log, setup included): ${parts.join('; ')}.`);
  }
  return notes;
}

function versionOf(bin) {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

function gitHead(root) {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    log(e?.stack ?? String(e));
    for (const s of running) s.killNow();
    process.exit(1);
  },
);
