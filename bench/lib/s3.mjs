// Buckets and request counts on the benchmark's radosgw.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

const execFileAsync = promisify(execFile);

/** Creates bucket `name` (each server under test gets its own, so counts and bytes stay apart). */
export async function createBucket(rgw, name) {
  const client = new S3Client({
    endpoint: rgw.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  } finally {
    client.destroy();
  }
}

/**
 * S3 operations per bucket so far, from radosgw's usage log: bucket → category (put_obj,
 * get_obj, init_multipart, complete_multipart, copy_obj, delete_obj, list_bucket, …) →
 * { ops, bytesSent, bytesReceived }. Waits a little first: the log is flushed every second.
 */
export async function usageByBucket(rgw) {
  await new Promise((r) => setTimeout(r, 1500));
  const { stdout } = await execFileAsync('radosgw-admin', ['-c', rgw.conf, 'usage', 'show', '--show-log-sum=false'], { maxBuffer: 64 * 2 ** 20 });
  const doc = JSON.parse(stdout);
  const out = {};
  for (const entry of doc.entries ?? []) {
    for (const b of entry.buckets ?? []) {
      const name = b.bucket || '(none)';
      const cats = (out[name] ??= {});
      for (const c of b.categories ?? []) {
        const x = (cats[c.category] ??= { ops: 0, bytesSent: 0, bytesReceived: 0 });
        x.ops += c.ops;
        x.bytesSent += c.bytes_sent;
        x.bytesReceived += c.bytes_received;
      }
    }
  }
  return out;
}

/** Per-category difference `after - before` for one bucket (categories with no new ops left out). */
export function usageDelta(before, after) {
  const out = {};
  for (const [cat, a] of Object.entries(after ?? {})) {
    const b = before?.[cat] ?? { ops: 0, bytesSent: 0, bytesReceived: 0 };
    const ops = a.ops - b.ops;
    if (ops > 0) out[cat] = { ops, bytesSent: a.bytesSent - b.bytesSent, bytesReceived: a.bytesReceived - b.bytesReceived };
  }
  return out;
}
