/** What S3 failures mean, in words an operator can act on. */

interface S3ErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string> };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH']);

function status(err: unknown): number | undefined {
  return (err as S3ErrorShape)?.$metadata?.httpStatusCode;
}

/** A missing object, part or multipart upload (not a missing bucket: that is an outage). */
export function isNotFound(err: unknown): boolean {
  const name = (err as S3ErrorShape)?.name;
  if (name === 'NoSuchBucket') return false;
  return name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchUpload' || status(err) === 404;
}

/** One sentence for a failed start-up check. */
export function describeS3Failure(err: unknown, bucket: string, step: 'bucket' | 'probe'): string {
  const e = (err ?? {}) as S3ErrorShape;
  const code = e.code ?? (e as { cause?: { code?: string } }).cause?.code;
  if (e.name === 'CredentialsProviderError') {
    return 'no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a shared config file (credentials never go in the storage URL)';
  }
  if ((code && NETWORK_CODES.has(code)) || e.name === 'TimeoutError') {
    return `cannot reach the S3 endpoint (${code ?? e.name}); check endpoint= in the storage URL`;
  }
  const http = status(err);
  if (e.name === 'NoSuchBucket' || (step === 'bucket' && (http === 404 || e.name === 'NotFound'))) {
    return `bucket "${bucket}" does not exist; create it first (Berth does not create buckets)`;
  }
  if (http === 301 || e.name === 'PermanentRedirect') {
    const region = e.$response?.headers?.['x-amz-bucket-region'];
    return `bucket "${bucket}" is in another region${region ? ` (${region})` : ''}; set region= in the storage URL`;
  }
  if (http === 403 || e.name === 'InvalidAccessKeyId' || e.name === 'SignatureDoesNotMatch' || e.name === 'AccessDenied') {
    return step === 'bucket'
      ? 'access denied (HTTP 403): check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the shared config profile) and the bucket policy'
      : 'writing, listing and deleting objects is denied (HTTP 403): Berth needs s3:PutObject, s3:GetObject, s3:DeleteObject, s3:ListBucket and the multipart permissions';
  }
  return `${e.name ?? 'error'}${http ? ` (HTTP ${http})` : ''}: ${e.message ?? String(err)}`;
}
