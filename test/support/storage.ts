/**
 * Blob storage for tests. The Vitest project picks it (BERTH_TEST_STORAGE): the filesystem in
 * a server's data dir, or the run's radosgw (started by ceph-global-setup.ts) with a fresh
 * prefix per server, so servers never see each other's objects.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { S3Options } from '../../src/storage/index.js';

export type TestStorage = 'filesystem' | 's3';

export interface TestS3 {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The cluster's ceph.conf, for tests that start a radosgw of their own on it (ceph.ts startGateway). */
  cephConf?: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's radosgw and its bucket (postgres-s3 project only). */
    s3: TestS3;
  }
}

export function testStorage(): TestStorage {
  const value = process.env.BERTH_TEST_STORAGE ?? 'filesystem';
  if (value !== 'filesystem' && value !== 's3') throw new Error(`BERTH_TEST_STORAGE must be filesystem or s3, got ${JSON.stringify(value)}`);
  return value;
}

export function testS3(): TestS3 {
  const s3 = inject('s3');
  if (!s3) throw new Error('s3 was not provided: run through the `postgres-s3` Vitest project (its global setup starts radosgw)');
  return s3;
}

/** Environment a Berth process needs to reach the test radosgw (the AWS SDK's default chain). */
export function testS3Env(): Record<string, string> {
  if (testStorage() !== 's3') return {};
  const s3 = testS3();
  return { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
}

/** A `--storage-url` for a new server: undefined (the data dir) or S3 under a fresh prefix. */
export function testStorageUrl(prefix = `t-${randomBytes(6).toString('hex')}`): string | undefined {
  if (testStorage() !== 's3') return undefined;
  const s3 = testS3();
  return `s3://${s3.bucket}/${prefix}?endpoint=${encodeURIComponent(s3.endpoint)}&region=us-east-1&force-path-style=true`;
}

/** Driver options for the test radosgw under `prefix`. */
export function testS3Options(prefix: string): S3Options {
  const s3 = testS3();
  return { bucket: s3.bucket, prefix, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true };
}
