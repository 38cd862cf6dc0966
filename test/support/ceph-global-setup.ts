/**
 * Vitest global setup of the `postgres-s3` project: starts one throw-away Ceph radosgw for the
 * whole run (ceph.ts), creates the run's bucket and hands it to tests (`inject('s3')`; every
 * server then uses its own prefix in it, see storage.ts); stops it at teardown.
 * BERTH_TEST_S3_ENDPOINT points the run at a radosgw that is already running instead (its
 * user must have the test keys), to save the start-up while developing; BERTH_TEST_CEPH_CONF
 * then names its cluster's ceph.conf (tests that start a gateway of their own need it).
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { TestProject } from 'vitest/node';
import { missingCephTools, startRadosgw, TEST_S3_ACCESS_KEY, TEST_S3_SECRET_KEY } from './ceph.js';
import { isCI } from './tools.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let endpoint = process.env.BERTH_TEST_S3_ENDPOINT;
  let cephConf = process.env.BERTH_TEST_CEPH_CONF;
  let stop = async () => undefined as void;
  if (!endpoint) {
    const missing = missingCephTools();
    if (missing.length > 0) {
      // vitest.config.ts leaves the project out when not on CI; reaching this means CI=true
      // or someone forced the project: either way, fail loudly rather than skip.
      throw new Error(
        `postgres-s3 project: Ceph binaries missing (${missing.join(', ')}). ` +
          `Install radosgw ceph-mon ceph-osd ceph-common (see .ci/run).${isCI() ? ' CI=true: a missing tool is a failure.' : ''}`,
      );
    }
    const started = Date.now();
    const rgw = await startRadosgw();
    console.log(`radosgw: ${rgw.endpoint} ready in ${Date.now() - started} ms`);
    endpoint = rgw.endpoint;
    cephConf = rgw.conf;
    stop = rgw.stop;
  }
  const bucket = `berth-test-${Date.now().toString(36)}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: TEST_S3_ACCESS_KEY, secretAccessKey: TEST_S3_SECRET_KEY },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }
  project.provide('s3', { endpoint, bucket, accessKeyId: TEST_S3_ACCESS_KEY, secretAccessKey: TEST_S3_SECRET_KEY, ...(cephConf ? { cephConf } : {}) });
  return stop;
}
