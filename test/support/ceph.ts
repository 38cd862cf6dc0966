/**
 * The tests' throw-away Ceph radosgw: the shared recipe in scripts/lib/ceph-cluster.mjs (the
 * benchmark starts the same one) with the tests' S3 user. Used by ceph-global-setup.ts, the
 * multi-node test and the S3 outage test; no vitest imports, so tools may reuse it.
 */
import { startCephCluster, type CephCluster } from '../../scripts/lib/ceph-cluster.mjs';

export { missingCephTools, startGateway, type Gateway } from '../../scripts/lib/ceph-cluster.mjs';

/** Keys of the S3 user every test cluster gets (loopback only, thrown away with the cluster). */
export const TEST_S3_ACCESS_KEY = 'BERTHTESTACCESSKEY01';
export const TEST_S3_SECRET_KEY = 'berth-test-secret-key-not-a-secret-0000001';

export type Radosgw = CephCluster;

/** Starts a cluster with the test user; `stop()` ends every daemon and removes the directory. */
export function startRadosgw(options: { osdBytes?: number } = {}): Promise<Radosgw> {
  return startCephCluster({
    ...options,
    accessKeyId: TEST_S3_ACCESS_KEY,
    secretAccessKey: TEST_S3_SECRET_KEY,
    user: 'berth-test',
    log: (message) => console.warn(message),
  });
}
