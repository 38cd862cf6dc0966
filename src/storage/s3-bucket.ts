import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { BlobNotFoundError, type StoredObject } from './driver.js';
import { isNotFound } from './s3-errors.js';

/** Tries per S3 call (the SDK's standard retry strategy): the first and three retries. */
export const S3_ATTEMPTS = 4;

export interface BucketOptions {
  bucket: string;
  /** Objects live under `prefix/`; empty for the bucket's root. */
  prefix: string;
  /** An S3-compatible endpoint (radosgw, MinIO, Spaces); AWS when absent. */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
}

/**
 * The S3 calls the driver makes, on keys relative to the prefix. Credentials come from the
 * AWS SDK's default chain only (environment, shared config, instance role). Missing objects,
 * parts and multipart uploads surface as `BlobNotFoundError` or as nothing, never as SDK errors.
 */
export class S3Bucket {
  private readonly client: S3Client;
  private readonly name: string;
  private readonly root: string;

  constructor(options: BucketOptions) {
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      // S3-compatible stores (radosgw 16, older MinIO) reject the SDK's default trailing
      // checksums; S3 checks the SigV4 payload hash and part ETags anyway.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // A refused connection, a reset, a timeout or a 5xx is tried again after an exponential,
      // jittered backoff (about 0.1, 0.2, 0.4 s): a blip of the store or the network stays
      // invisible to clients, an outage answers 503 within about a second.
      maxAttempts: S3_ATTEMPTS,
      requestHandler: { connectionTimeout: 5_000, socketTimeout: 120_000 },
    });
    this.name = options.bucket;
    this.root = options.prefix ? `${options.prefix.replace(/\/+$/, '')}/` : '';
  }

  private full(key: string): string {
    return `${this.root}${key}`;
  }

  async exists(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.name }));
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: this.full(key) }));
      return { size: out.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async read(key: string, range?: { start: number; end: number }): Promise<Readable> {
    try {
      const Range = range ? `bytes=${range.start}-${range.end}` : undefined;
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.name, Key: this.full(key), Range }));
      return out.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(key);
      throw err;
    }
  }

  async getBytes(key: string): Promise<Buffer> {
    const body = await this.read(key);
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async put(key: string, bytes: Buffer): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: this.full(key), Body: bytes, ContentLength: bytes.length }));
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: this.full(key) }));
  }

  /** Objects under `prefix/`, a page of at most 1000 at a time. */
  async *list(prefix: string): AsyncIterable<StoredObject> {
    let ContinuationToken: string | undefined;
    do {
      const Prefix = this.full(`${prefix.replace(/\/+$/, '')}/`);
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.name, Prefix, ContinuationToken, MaxKeys: 1000 }));
      for (const o of page.Contents ?? []) {
        yield { key: o.Key!.slice(this.root.length), size: o.Size ?? 0, modifiedAt: o.LastModified?.getTime() ?? 0 };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async createMultipart(key: string): Promise<string> {
    const out = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.name, Key: this.full(key), ContentType: 'application/octet-stream' }));
    return out.UploadId!;
  }

  /** Uploads (or replaces) part `n`; returns its ETag. */
  async uploadPart(key: string, uploadId: string, n: number, body: Buffer): Promise<string> {
    const out = await this.client.send(
      new UploadPartCommand({ Bucket: this.name, Key: this.full(key), UploadId: uploadId, PartNumber: n, Body: body, ContentLength: body.length }),
    );
    if (!out.ETag) throw new Error(`S3 returned no ETag for part ${n} of ${key}`);
    return out.ETag;
  }

  /**
   * Assembles the parts (S3 rejects a part whose ETag differs: never silently other bytes).
   * An upload completed already by an earlier attempt whose answer was lost is no error.
   */
  async completeMultipart(key: string, uploadId: string, parts: { n: number; etag: string }[]): Promise<void> {
    const MultipartUpload = { Parts: parts.map((p) => ({ PartNumber: p.n, ETag: p.etag })) };
    await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.name, Key: this.full(key), UploadId: uploadId, MultipartUpload })).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.name, Key: this.full(key), UploadId: uploadId })).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  /** Multipart uploads in progress whose key starts with `keyPrefix`, page by page. */
  async *multipartUploads(keyPrefix: string): AsyncIterable<{ key: string; uploadId: string; initiated: number }> {
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.name, Prefix: this.full(keyPrefix), KeyMarker, UploadIdMarker }));
      for (const u of page.Uploads ?? []) yield { key: u.Key!.slice(this.root.length), uploadId: u.UploadId!, initiated: u.Initiated?.getTime() ?? 0 };
      if (!page.IsTruncated) return;
      KeyMarker = page.NextKeyMarker;
      UploadIdMarker = page.NextUploadIdMarker;
    }
  }

  async presignGet(key: string, ttlSeconds: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.name, Key: this.full(key) }), { expiresIn: ttlSeconds });
  }

  close(): void {
    this.client.destroy();
  }
}
