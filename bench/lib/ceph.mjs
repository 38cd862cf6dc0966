// The benchmark's throw-away Ceph radosgw: the recipe the tests use too
// (scripts/lib/ceph-cluster.mjs), with a larger OSD for repeated 256 MiB blobs and radosgw's
// per-bucket usage log on, from which the runner counts each server's S3 requests.
import { rmSync, writeFileSync } from 'node:fs';
import { startCephCluster } from '../../scripts/lib/ceph-cluster.mjs';

export { missingCephTools } from '../../scripts/lib/ceph-cluster.mjs';

/** Keys of the S3 user of the throw-away cluster (loopback only, removed with it). */
export const BENCH_S3_ACCESS_KEY = 'BERTHBENCHACCESSKEY1';
export const BENCH_S3_SECRET_KEY = 'berth-bench-secret-key-not-a-secret-00001';

/**
 * Starts the cluster (≈20 s). Returns { endpoint, accessKeyId, secretAccessKey, dir, conf,
 * pids: { mon, osd0, rgw }, stop(), killNow() }.
 * @param {{ keep?: boolean, log?: (msg: string) => void }} [options]
 */
export function startRadosgw({ keep = false, log = () => undefined } = {}) {
  return startCephCluster({
    accessKeyId: BENCH_S3_ACCESS_KEY,
    secretAccessKey: BENCH_S3_SECRET_KEY,
    user: 'berth-bench',
    osdBytes: 48 * 2 ** 30,
    usageLog: true,
    keep,
    dirPrefix: 'berth-bench-ceph-',
    log,
  });
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
