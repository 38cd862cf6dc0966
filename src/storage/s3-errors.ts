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

/** HTTP statuses of an S3 answer that mean "not now", not "not allowed" or "not there". */
const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);
const TRANSIENT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeTooSkewed', 'SlowDown', 'ServiceUnavailable', 'InternalError', 'AbortError']);

/**
 * Whether a failed S3 call means the store cannot be reached or cannot answer right now (the
 * endpoint refuses connections, times out, or answers 5xx after the SDK's own retries): the
 * request may succeed later, unchanged. Access denied, a missing bucket and bad requests are not.
 */
export function isS3Unavailable(err: unknown): boolean {
  const e = (err ?? {}) as S3ErrorShape & { cause?: { code?: string } };
  if (e.$metadata?.httpStatusCode !== undefined && TRANSIENT_STATUSES.has(e.$metadata.httpStatusCode)) return true;
  if (e.name && TRANSIENT_NAMES.has(e.name)) return true;
  const code = e.code ?? e.cause?.code;
  if (code && (NETWORK_CODES.has(code) || code === 'EPIPE' || code === 'ECONNABORTED' || code === 'UND_ERR_SOCKET')) return true;
  // A response that never completed (the endpoint died mid-answer) has no status at all.
  return e.$metadata !== undefined && e.$metadata.httpStatusCode === undefined;
}

/** An S3 answer refusing a write because a user or bucket quota is used up (radosgw, MinIO). */
export function isS3QuotaExceeded(err: unknown): boolean {
  const name = (err as S3ErrorShape)?.name;
  return name === 'QuotaExceeded' || name === 'XMinioAdminBucketQuotaExceeded';
}
