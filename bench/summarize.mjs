#!/usr/bin/env node
// Summarises several benchmark runs (their JSON results) into one markdown table per storage
// mode: for every row, each server's median over the runs and the ratio Berth ÷ Distribution
// of every run, with its median and range. Ratios come from within one interleaved run each;
// the machine's load moves from run to run, so it is listed per run as well.
//
//   node bench/summarize.mjs bench/results/run-*.json
import { readFileSync } from 'node:fs';

const files = process.argv.slice(2);
if (!files.length) {
  process.stderr.write('usage: node bench/summarize.mjs RESULT.json…\n');
  process.exit(2);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function fmt(v, unit) {
  if (v == null || Number.isNaN(v)) return '—';
  switch (unit) {
    case 'req/s': return v.toFixed(0);
    case 'listings/s': return v.toFixed(1);
    case 'CPU-s/GiB': return v.toFixed(2);
    case 'CPU-ms/image': return v.toFixed(1);
    default: return v.toFixed(1);
  }
}

const runs = files.map((f) => ({ file: f, ...JSON.parse(readFileSync(f, 'utf8')) }));
for (const storage of [...new Set(runs.map((r) => r.storage ?? 'fs'))]) {
  const group = runs.filter((r) => (r.storage ?? 'fs') === storage);
  const lines = [];
  const m = group[0].machine;
  lines.push(`### ${storage === 's3' ? 'S3 (Ceph radosgw on loopback)' : 'Filesystem'}: ${group.length} full run(s)`, '');
  lines.push(`${m.model}, ${m.cpus} cores, ${m.mem_gib} GiB RAM, Linux ${m.kernel}, Node ${m.node}; Distribution ${group[0].versions?.distribution ?? '?'}; Berth ${[...new Set(group.map((r) => r.versions?.berth))].join(', ')}${group[0].versions?.radosgw ? `; ${group[0].versions.radosgw.split(' (')[0]}` : ''}.`, '');
  lines.push('| Scenario | Unit | Berth (median of runs) | Distribution (median of runs) | Berth ÷ Distribution, median (range) | per run |');
  lines.push('|---|---|---:|---:|---:|---|');
  const titles = [];
  for (const r of group) for (const row of r.rows) if (!titles.some((t) => t.title === row.title)) titles.push(row);
  for (const t of titles) {
    const per = group.map((r) => r.rows.find((x) => x.title === t.title)).filter(Boolean);
    const b = per.map((x) => x.berth?.value).filter((v) => v != null);
    const d = per.map((x) => x.distribution?.value).filter((v) => v != null);
    const ratios = per.map((x) => x.ratio).filter((v) => v != null && Number.isFinite(v));
    const unit = t.better === 'lower' ? `${t.unit} (lower is better)` : t.unit;
    const ratio = ratios.length ? `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : '—';
    lines.push(`| ${t.title} | ${unit} | ${b.length ? fmt(median(b), t.unit) : '—'} | ${d.length ? fmt(median(d), t.unit) : '—'} | ${ratio} | ${ratios.map((x) => x.toFixed(2)).join(', ')} |`);
  }
  lines.push('');
  for (const r of group) {
    const loads = r.rows.flatMap((row) => ['berth', 'distribution'].flatMap((t) => row[t]?.runs?.map((x) => x.otherLoad) ?? [])).filter((x) => x != null);
    const mean = loads.length ? loads.reduce((a, x) => a + x, 0) / loads.length : null;
    lines.push(`- ${r.generated_at}: ${r.elapsed_seconds} s; other load during timed runs mean ${mean == null ? '?' : `${(mean * 100).toFixed(0)}%`}, max ${loads.length ? `${(Math.max(...loads) * 100).toFixed(0)}%` : '?'} of ${r.machine.cpus} CPUs; load average ${r.machine.loadavg_start?.join(' ') ?? '?'} at start${r.errors?.length ? `; ${r.errors.length} failure(s)` : ''}.`);
  }
  console.log(`${lines.join('\n')}\n`);
}
