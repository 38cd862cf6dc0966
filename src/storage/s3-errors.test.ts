import { describe, expect, it } from 'vitest';
import { isNotFound, isS3QuotaExceeded, isS3Unavailable } from './s3-errors.js';

/** Errors shaped as the AWS SDK v3 throws them: a name, and the HTTP status in $metadata. */
const answered = (name: string, httpStatusCode: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode } });
const network = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:9`), { code, $metadata: { attempts: 4 } });

describe('what an S3 failure means', () => {
  it('calls an unreachable or failing store unavailable', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']) expect(isS3Unavailable(network(code)), code).toBe(true);
    for (const status of [500, 502, 503, 504]) expect(isS3Unavailable(answered('InternalError', status)), String(status)).toBe(true);
    expect(isS3Unavailable(answered('SlowDown', 503))).toBe(true);
    expect(isS3Unavailable(Object.assign(new Error('timed out'), { name: 'TimeoutError' }))).toBe(true);
  });

  it('does not call refusals, missing things or our own errors unavailable', () => {
    expect(isS3Unavailable(answered('AccessDenied', 403))).toBe(false);
    expect(isS3Unavailable(answered('NoSuchKey', 404))).toBe(false);
    expect(isS3Unavailable(answered('NoSuchBucket', 404))).toBe(false);
    expect(isS3Unavailable(answered('InvalidArgument', 400))).toBe(false);
    expect(isS3Unavailable(new Error('S3 assembled 3 bytes for upload x, expected 4'))).toBe(false);
  });

  it('tells a used-up quota apart, and a missing bucket from a missing object', () => {
    expect(isS3QuotaExceeded(answered('QuotaExceeded', 403))).toBe(true);
    expect(isS3QuotaExceeded(answered('AccessDenied', 403))).toBe(false);
    expect(isNotFound(answered('NoSuchKey', 404))).toBe(true);
    expect(isNotFound(answered('NoSuchBucket', 404))).toBe(false);
  });
});
