// The benchmark scenarios. Every scenario runs the same client code against every target.
// setup() is not timed; run() returns { <row key>: value, ...details } for one repetition.
import { performance } from 'node:perf_hooks';
import { SyntheticBlob, MiB, GiB } from './data.mjs';
import { pushSmallImage, makeSmallImage } from './registry.mjs';
import { check } from './http.mjs';
import { procStatusKiB } from './servers.mjs';

export function config(quick) {
  return quick
    ? { blobSize: 32 * MiB, chunkSize: 16 * MiB, blobReps: 2, smallClients: 32, manifestClients: 64, durationMs: 2000, warmupMs: 500, concReps: 2, tagCount: 1000, tagPage: 100, tagSetupConcurrency: 16, tagReps: 3, tagIterations: 5, rssSize: 128 * MiB }
    : { blobSize: 256 * MiB, chunkSize: 16 * MiB, blobReps: 5, smallClients: 32, manifestClients: 64, durationMs: 5000, warmupMs: 1000, concReps: 3, tagCount: 10_000, tagPage: 1000, tagSetupConcurrency: 16, tagReps: 5, tagIterations: 10, rssSize: 1 * GiB };
}

/**
 * Server CPU seconds per GiB moved, summed over every repetition of the scenario (not the best
 * one): CPU time is what a busy machine inflates least, and the sum keeps clock-tick rounding
 * (10 ms) small against the total.
 */
function cpuRow(what) {
  return { key: 'cpuPerGiB', title: `server CPU per GiB, ${what} (all repetitions)`, unit: 'CPU-s/GiB', better: 'lower', aggregate: 'cpuPerGiB', cpuField: 'serverCpuSeconds' };
}

/**
 * The same for the object store (radosgw + OSD + monitor) during a server's timed runs, in S3
 * mode: both servers share the store, so this is what each one makes it spend, reported apart
 * from the server's own figure.
 */
function storageCpuRow(what) {
  return { key: 'storageCpuPerGiB', title: `radosgw + OSD CPU per GiB, ${what} (all repetitions)`, unit: 'CPU-s/GiB', better: 'lower', aggregate: 'cpuPerGiB', cpuField: 'storageCpuSeconds' };
}

/** The CPU rows of a blob scenario: the server's, and in S3 mode the store's. */
function cpuRows(c, what) {
  return c.storage === 's3' ? [cpuRow(what), storageCpuRow(what)] : [cpuRow(what)];
}

const fmtSize = (b) => (b >= GiB ? `${b / GiB} GiB` : `${b / MiB} MiB`);
const secsSince = (t0) => (performance.now() - t0) / 1000;

/**
 * Runs fn(worker) in `n` concurrent loops until `durationMs` has passed (each loop finishes the
 * operation in flight). Any error stops every loop and is rethrown.
 * Returns { count, secs } where secs runs until the last loop finished.
 */
async function runWorkers(n, durationMs, fn) {
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  let count = 0;
  let failure = null;
  await Promise.all(Array.from({ length: n }, async (_, w) => {
    while (!failure && performance.now() < deadline) {
      try {
        await fn(w);
        count++;
      } catch (e) {
        failure ??= e;
      }
    }
  }));
  if (failure) throw failure;
  return { count, secs: secsSince(t0) };
}

/** Setup of the pull scenarios: one blob of the configured size, pushed untimed. */
async function pushBlobToPull(client, c) {
  const blob = new SyntheticBlob(c.blobSize);
  await client.pushMonolithic(blob);
  return { blob };
}

async function verifyBlob(client, blob) {
  const head = await client.headBlob(blob.digest());
  const len = head.headers['content-length'];
  check(len === undefined || Number(len) === blob.size, `blob HEAD Content-Length ${len}, expected ${blob.size}`, head);
}

export const SCENARIOS = [
  {
    id: 'push',
    aliases: ['mono', 'monolithic'],
    repo: 'bench/push',
    sockets: 1,
    reps: (c) => c.blobReps,
    rows: (c) => [{ key: 'mibps', title: `${fmtSize(c.blobSize)} blob push, monolithic (POST → PUT ?digest= with body)`, unit: 'MiB/s', better: 'higher' }, ...cpuRows(c, 'push, monolithic')],
    async run(client, _state, c) {
      const blob = new SyntheticBlob(c.blobSize);
      blob.digest();
      const t0 = performance.now();
      await client.pushMonolithic(blob);
      const secs = secsSince(t0);
      await verifyBlob(client, blob);
      return { mibps: blob.size / MiB / secs, secs, bytes: blob.size };
    },
  },
  {
    id: 'chunked',
    aliases: ['patch'],
    repo: 'bench/chunked',
    sockets: 1,
    reps: (c) => c.blobReps,
    rows: (c) => [{ key: 'mibps', title: `${fmtSize(c.blobSize)} blob push, chunked (POST → PATCH ${fmtSize(c.chunkSize)} × ${Math.ceil(c.blobSize / c.chunkSize)} → PUT ?digest=)`, unit: 'MiB/s', better: 'higher' }, ...cpuRows(c, 'push, chunked')],
    async run(client, _state, c) {
      const blob = new SyntheticBlob(c.blobSize);
      blob.digest();
      const t0 = performance.now();
      await client.pushChunked(blob, c.chunkSize);
      const secs = secsSince(t0);
      await verifyBlob(client, blob);
      return { mibps: blob.size / MiB / secs, secs, bytes: blob.size };
    },
  },
  {
    id: 'pull',
    aliases: ['get'],
    repo: 'bench/pull',
    sockets: 1,
    reps: (c) => c.blobReps,
    rows: (c) => [{ key: 'mibps', title: `${fmtSize(c.blobSize)} blob pull (GET, streamed, sha256 verified)`, unit: 'MiB/s', better: 'higher' }, ...cpuRows(c, 'pull')],
    setup: pushBlobToPull,
    async run(client, { blob }) {
      const t0 = performance.now();
      const res = await client.pullBlob(blob.digest(), blob.size);
      const secs = secsSince(t0);
      if (res.redirected) throw new Error('the blob GET was redirected; this scenario measures a server that streams the bytes itself');
      return { mibps: blob.size / MiB / secs, secs, bytes: blob.size };
    },
  },
  {
    id: 'pull-redirect',
    aliases: ['redirect'],
    // S3 only, on a second pair of servers that answer blob GETs with 307 to a presigned URL.
    storage: 's3',
    variant: 'redirect',
    repo: 'bench/pull-redirect',
    sockets: 1,
    reps: (c) => c.blobReps,
    rows: (c) => [
      { key: 'mibps', title: `${fmtSize(c.blobSize)} blob pull with redirects (GET → 307 → presigned GET from radosgw, sha256 verified)`, unit: 'MiB/s', better: 'higher' },
      // The only part of a redirected pull the registry serves itself.
      { key: 'redirectMs', title: 'time to the 307, pull with redirects (the registry\'s own part)', unit: 'ms', better: 'lower' },
      ...cpuRows(c, 'pull with redirects'),
    ],
    setup: pushBlobToPull,
    async run(client, { blob }) {
      const t0 = performance.now();
      const res = await client.pullBlob(blob.digest(), blob.size);
      const secs = secsSince(t0);
      if (!res.redirected) throw new Error('the blob GET was not redirected (expected 307 to the object store)');
      return { mibps: blob.size / MiB / secs, secs, bytes: blob.size, redirectMs: res.redirectMs };
    },
  },
  {
    id: 'small',
    aliases: ['images', 'concurrent-push'],
    repo: 'bench/small',
    sockets: (c) => c.smallClients,
    reps: (c) => c.concReps,
    rows: (c) => [
      { key: 'ips', title: `${c.smallClients} clients pushing small images (1 KiB config + 16 KiB layer, HEAD→POST→PATCH→PUT, manifest by tag)`, unit: 'images/s', better: 'higher' },
      { key: 'cpuMsPerImage', title: 'server CPU per small image pushed (all repetitions)', unit: 'CPU-ms/image', better: 'lower', aggregate: 'cpuPerItem', cpuField: 'serverCpuSeconds', itemField: 'images' },
    ],
    async setup(client, c) {
      const state = { seq: 0 };
      await runWorkers(c.smallClients, c.warmupMs, () => pushSmallImage(client, `warm-${state.seq++}`));
      return state;
    },
    async run(client, state, c) {
      const { count, secs } = await runWorkers(c.smallClients, c.durationMs, () => pushSmallImage(client, `img-${state.seq++}`));
      return { ips: count / secs, images: count, secs };
    },
  },
  {
    id: 'manifests',
    aliases: ['manifest', 'get-manifest'],
    repo: 'bench/manifests',
    sockets: (c) => c.manifestClients,
    reps: (c) => c.concReps,
    rows: (c) => [{ key: 'rps', title: `${c.manifestClients} clients GET/HEAD manifest (alternating, by tag and by digest)`, unit: 'req/s', better: 'higher' }],
    async setup(client, c) {
      const img = await pushSmallImage(client, 'latest');
      const state = { img, seq: 0 };
      await runWorkers(c.manifestClients, c.warmupMs, () => this.op(client, state));
      return state;
    },
    op(client, state) {
      const i = state.seq++;
      const method = i % 2 === 0 ? 'GET' : 'HEAD';
      const ref = (i >> 1) % 2 === 0 ? 'latest' : state.img.digest;
      return client.fetchManifest(method, ref, state.img.digest, state.img.manifest.length);
    },
    async run(client, state, c) {
      const { count, secs } = await runWorkers(c.manifestClients, c.durationMs, () => this.op(client, state));
      return { rps: count / secs, requests: count, secs };
    },
  },
  {
    id: 'tags',
    aliases: ['tags-list', 'list'],
    repo: 'bench/tags',
    sockets: (c) => c.tagSetupConcurrency,
    reps: (c) => c.tagReps,
    rows: (c) => [
      { key: 'full', title: `tags/list of ${c.tagCount} tags, full list (one GET, Link followed if sent; mean of ${c.tagIterations})`, unit: 'listings/s', better: 'higher', msKey: 'fullMs' },
      { key: 'paged', title: `tags/list of ${c.tagCount} tags, paginated n=${c.tagPage} following Link (mean of ${c.tagIterations})`, unit: 'listings/s', better: 'higher', msKey: 'pagedMs' },
    ],
    async setup(client, c) {
      const img = makeSmallImage('tags');
      await client.pushSmallBlob(img.config);
      await client.pushSmallBlob(img.layer);
      const names = Array.from({ length: c.tagCount }, (_, i) => `t${String(i).padStart(5, '0')}`);
      let next = 0;
      const t0 = performance.now();
      await runWorkers(c.tagSetupConcurrency, Infinity, async () => {
        const i = next++;
        if (i >= names.length) throw STOP;
        await client.putManifest(names[i], img.manifest);
      }).catch((e) => { if (e !== STOP) throw e; });
      const setupSecs = secsSince(t0);
      return { expected: names, setupSecs, setupTagsPerSec: names.length / setupSecs };
    },
    async run(client, state, c) {
      // Each repetition times tagIterations listings of each kind (each one verified, untimed).
      let fullMs = 0;
      let pagedMs = 0;
      let full;
      let paged;
      for (let i = 0; i < c.tagIterations; i++) {
        let t0 = performance.now();
        full = await client.listTags();
        fullMs += performance.now() - t0;
        checkTags(full, state.expected, 'full tags/list');
        t0 = performance.now();
        paged = await client.listTags(c.tagPage);
        pagedMs += performance.now() - t0;
        checkTags(paged, state.expected, `tags/list?n=${c.tagPage}`);
      }
      fullMs /= c.tagIterations;
      pagedMs /= c.tagIterations;
      return {
        full: 1000 / fullMs,
        paged: 1000 / pagedMs,
        fullMs,
        pagedMs,
        fullRequests: full.requests,
        pagedRequests: paged.requests,
        paginationHonoured: Math.max(...paged.pageSizes) <= c.tagPage,
        setupTagsPerSec: state.setupTagsPerSec,
      };
    },
  },
  {
    id: 'rss',
    aliases: ['memory', 'mem'],
    repo: 'bench/rss',
    sockets: 1,
    fresh: true,
    reps: () => 1,
    rows: (c) => [{ key: 'peakMiB', title: `Peak RSS (VmHWM) of a fresh server process pushing a ${fmtSize(c.rssSize)} blob (POST → PUT)`, unit: 'MiB', better: 'lower' }],
    async run(client, _state, c, server) {
      const blob = new SyntheticBlob(c.rssSize);
      blob.digest();
      const baseline = procStatusKiB(server.pid, 'VmHWM');
      const t0 = performance.now();
      await client.pushMonolithic(blob);
      const secs = secsSince(t0);
      const peak = procStatusKiB(server.pid, 'VmHWM');
      const rssAfter = procStatusKiB(server.pid, 'VmRSS');
      if (peak === null) throw new Error(`cannot read /proc/${server.pid}/status`);
      await verifyBlob(client, blob);
      return { peakMiB: peak / 1024, baselineHwmMiB: baseline / 1024, rssAfterMiB: rssAfter / 1024, mibps: blob.size / MiB / secs, secs };
    },
  },
];

const STOP = new Error('stop');

function checkTags(list, expected, what) {
  const got = [...list.tags].sort();
  const same = got.length === expected.length && got.every((t, i) => t === expected[i]);
  if (!same) {
    const have = new Set(list.tags);
    const missing = expected.filter((t) => !have.has(t)).slice(0, 5);
    throw new Error(`${what}: got ${list.tags.length} tags in ${list.requests} request(s) (page sizes ${list.pageSizes.slice(0, 12).join(',')}…), expected ${expected.length}; first missing: ${missing.join(',')}; duplicates: ${list.tags.length - have.size}`);
  }
}

export function findScenario(name) {
  return SCENARIOS.find((s) => s.id === name || s.aliases.includes(name));
}
