#!/usr/bin/env node
// Berth vs CNCF Distribution benchmark. See bench/README.md.
import { parseArgs } from 'node:util';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCENARIOS, config, findScenario } from './lib/scenarios.mjs';
import { RegistryClient } from './lib/registry.mjs';
import { describeError } from './lib/http.mjs';
import { startBerth, startDistribution, procStatusKiB, cpuSeconds, childPids, machineBusySeconds } from './lib/servers.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RSS_GOAL_MIB = 200;
const running = new Set(); // servers started by this process

const USAGE = `usage: node bench/run.mjs [options]   (or: npm run bench -- [options])

  --only LIST          comma-separated scenarios: ${SCENARIOS.map((s) => s.id).join(', ')}
  --quick              small sizes and short durations, for development
  --only-distribution  skip Berth (no build)
  --only-berth         skip Distribution
  --no-build           do not run \`npm run build\` before starting Berth
  --reps N             repetitions per scenario (default: 5 for blobs and tags/list, 3 for concurrent)
  --duration SECONDS   duration of each concurrent repetition (default 5)
  --keep               keep the servers' temporary data directories and logs
  --out FILE           JSON results (default bench/results/latest.json)
  --stat best|median   which repetition the table shows (default best: other load only slows runs down)
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
      out: { type: 'string', default: path.join(ROOT, 'bench', 'results', 'latest.json') },
      'distribution-bin': { type: 'string', default: '/usr/bin/docker-registry' },
      'berth-root': { type: 'string', default: ROOT },
      stat: { type: 'string', default: 'best' },
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
  const cfg = config(opts.quick);
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
  let selected = SCENARIOS;
  if (opts.only) {
    selected = [];
    for (const name of opts.only.split(',').map((s) => s.trim()).filter(Boolean)) {
      const s = findScenario(name);
      if (!s) return usageError(`unknown scenario "${name}"`);
      if (!selected.includes(s)) selected.push(s);
    }
    selected = SCENARIOS.filter((s) => selected.includes(s));
  }
  if (opts['only-distribution'] && opts['only-berth']) return usageError('--only-distribution and --only-berth exclude each other');
  const targets = [...(opts['only-distribution'] ? [] : ['berth']), ...(opts['only-berth'] ? [] : ['distribution'])];

  const began = performance.now();
  const errors = [];
  const rows = [];
  for (const s of selected) {
    for (const r of s.rows(cfg)) {
      const row = { scenario: s.id, key: r.key, title: r.title, unit: r.unit, better: r.better, msKey: r.msKey, aggregate: r.aggregate };
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

  const starters = {
    berth: () => (berthUnavailable ? Promise.reject(new Error(`Berth unavailable: ${berthUnavailable}`)) : startBerth({ root: berthRoot, keep: opts.keep })),
    distribution: () => startDistribution({ bin: opts['distribution-bin'], keep: opts.keep }),
  };
  const onSignal = (sig) => {
    for (const s of running) s.killNow();
    log(`\ninterrupted (${sig})`);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  async function start(t) {
    try {
      const s = await starters[t]();
      running.add(s);
      log(`${t} ready: registry ${s.registryBase} (pid ${s.pid})`);
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
    const clientCpu0 = process.cpuUsage();
    const wall0 = performance.now();
    for (let rep = 0; rep < reps; rep++) {
      for (const t of rep % 2 ? [...order].reverse() : order) {
        const c = ctx[t];
        if (c.failed) continue;
        settle();
        try {
          const probe = loadProbe(Object.values(ctx).map((x) => x.server.pid));
          const serverCpu0 = cpuSeconds(c.server.pid);
          const r = await scenario.run(c.client, c.state, cfg, c.server);
          const serverCpu1 = cpuSeconds(c.server.pid);
          r.otherLoad = probe();
          if (serverCpu0 != null && serverCpu1 != null) r.serverCpuSeconds = +(serverCpu1 - serverCpu0).toFixed(2);
          if (r.bytes && r.serverCpuSeconds != null) r.cpuPerGiB = r.serverCpuSeconds / (r.bytes / 2 ** 30);
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
      };
    }
  }

  // Scenarios sharing one long-lived pair of servers.
  const shared = selected.filter((s) => !s.fresh);
  if (shared.length) {
    const started = await Promise.all(targets.map((t) => start(t)));
    const servers = Object.fromEntries(targets.map((t, i) => [t, started[i]]));
    for (const s of shared) await runScenario(s, servers);
    for (const t of targets) {
      const s = servers[t].server;
      if (s) {
        extras.overall ??= {};
        extras.overall[t] = { vmHwmMiBAfterAllSharedScenarios: kibToMiB(procStatusKiB(s.pid, 'VmHWM')), cpuSeconds: cpuSeconds(s.pid) };
      }
      await stop(s);
    }
  }
  // Scenarios that need a fresh process (peak RSS): one server at a time.
  for (const s of selected.filter((x) => x.fresh)) {
    for (const t of targets) {
      const started = await start(t);
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
          const cpu = r.runs.reduce((a, x) => a + (x.serverCpuSeconds ?? 0), 0);
          const gib = r.runs.reduce((a, x) => a + (x.bytes ?? 0), 0) / 2 ** 30;
          r.value = gib > 0 ? cpu / gib : null;
        }
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
  const table = markdown(rows, targets, notes, opts.stat);
  const elapsed = (performance.now() - began) / 1000;
  console.log(`\n${table}\n`);
  log(`total time ${elapsed.toFixed(0)} s`);

  const out = {
    generated_at: new Date().toISOString(),
    elapsed_seconds: +elapsed.toFixed(1),
    quick: opts.quick,
    config: cfg,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, mem_gib: +(os.totalmem() / 2 ** 30).toFixed(1), kernel: os.release(), node: process.version },
    versions: { distribution: versionOf(opts['distribution-bin']), berth: gitHead(berthRoot) },
    targets,
    monolithic_flow: 'POST /v2/<name>/blobs/uploads/ → 202 Location; PUT <location>&digest=<d> with the whole body (Content-Length set) → 201 (containerd\'s flow)',
    rows: rows.map(({ msKey: _msKey, ...r }) => r),
    server_stats: extras,
    notes,
    errors,
    markdown: table,
  };
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
    default: return v.toFixed(1);
  }
}

function cell(row, t) {
  const r = row[t];
  if (!r) return 'n/a';
  if (r.error) return 'FAILED';
  if (r.value == null) return '—';
  return `${fmt(r.value, row)}${row.msKey ? ` (${r.ms.toFixed(1)} ms)` : ''}`;
}

function markdown(rows, targets, notes, stat) {
  const head = ['#', 'Scenario', 'Unit', ...targets.map((t) => (t === 'berth' ? 'Berth' : 'Distribution 2.8.2'))];
  if (targets.length === 2) head.push('Berth ÷ Distribution');
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i >= 3 ? '---:' : '---')).join('|')}|`];
  rows.forEach((row, i) => {
    const unit = row.better === 'lower' ? `${row.unit} (lower is better)` : row.unit;
    const cols = [String(i + 1), row.title, unit, ...targets.map((t) => cell(row, t))];
    if (targets.length === 2) cols.push(row.ratio != null ? `${row.ratio.toFixed(2)}×` : '—');
    lines.push(`| ${cols.join(' | ')} |`);
  });
  lines.push('', `Figures are the ${stat === 'median' ? 'median' : 'best'} of the repetitions (every run, with medians, is in bench/results/latest.json); ratios above 1 favour Berth except in rows marked "lower is better", where below 1 does. CPU rows are totals over every repetition, not a best run.`);
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
