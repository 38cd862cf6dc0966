import { randomUUID } from 'node:crypto';
import type { Db, Manifest } from '../db/index.js';
import { AppError } from '../errors/index.js';
import { digestOf, parseDigest, parseManifest, type Descriptor, type ParsedManifest } from '../oci/index.js';
import { blobKey, BlobNotFoundError, type BlobDriver } from '../storage/index.js';
import { batches, IDS_PER_STATEMENT, ROWS_PER_INSERT } from '../db/index.js';
import { BlobService } from './blobs.js';
import { ByteLru } from './byte-lru.js';
import { NO_QUOTA, type PushQuota } from './quotas.js';

export interface PutManifestResult {
  digest: string;
  subject: string | undefined;
}

/**
 * Manifests: validated on push (every referenced blob and child manifest must be visible in
 * the repository), stored as content-addressed bytes, described by rows that tags, referrers
 * and the management API read.
 */
export class ManifestService {
  /** Called after every successful push (the size job measures new layers). */
  onPushed: () => void = () => undefined;

  /** Manifest bytes are immutable per digest, so any node may cache them. */
  private readonly cache = new ByteLru(64 * 1024 * 1024);

  constructor(
    private readonly db: Db,
    private readonly driver: BlobDriver,
    private readonly quota: PushQuota = NO_QUOTA,
  ) {}

  async put(repositoryId: string, reference: string, bytes: Buffer, contentType: string, tags: readonly string[] = []): Promise<PutManifestResult> {
    let digest = digestOf(bytes);
    if (reference.includes(':')) {
      const wanted = parseDigest(reference);
      if (typeof wanted !== 'object') throw new AppError('DIGEST_INVALID', `"${reference}" is not a valid digest`);
      digest = wanted.algorithm === 'sha256' ? digest : digestOf(bytes, wanted.algorithm);
      if (digest !== wanted.value) throw new AppError('DIGEST_INVALID', `manifest content has digest ${digest}, not ${wanted.value}`, { detail: { digest: wanted.value } });
    } else {
      tags = [reference, ...tags];
    }
    const parsed = parseManifest(bytes, contentType);
    const childSizes = await this.checkReferences(repositoryId, parsed);
    await this.quota.checkBlob(repositoryId, digest, bytes.length);

    const key = (await BlobService.locate(this.db, this.driver, digest)) ?? blobKey(digest);
    const placed = key === blobKey(digest) && !(await this.driver.stat(key));
    if (placed) await this.driver.put(key, bytes);

    try {
      await this.record(repositoryId, digest, key, bytes, parsed, childSizes, tags);
    } catch (err) {
      // Bytes this push put in place and nothing records are removed now, not at the next collection.
      if (placed) await BlobService.discardUnreferenced(this.db, this.driver, digest).catch(() => undefined);
      throw err;
    }
    this.cache.set(digest, bytes);
    this.onPushed();
    return { digest, subject: parsed.subject?.digest };
  }

  /** The push's one transaction: quota, references, the manifest's rows and its tags. */
  private async record(repositoryId: string, digest: string, key: string, bytes: Buffer, parsed: ParsedManifest, childSizes: number, tags: readonly string[]): Promise<void> {
    const now = Date.now();
    await this.db.transaction().execute(async (tx) => {
      // The team lock (taken by the quota check) comes first in every push transaction: one lock order, no deadlocks.
      await this.quota.checkBlob(repositoryId, digest, bytes.length, tx);
      await this.claimReferences(tx, repositoryId, parsed, now);
      await BlobService.record(tx, this.driver, repositoryId, digest, bytes.length, key);
      let manifestId = (await tx.selectFrom('manifests').select('id').where('repository_id', '=', repositoryId).where('digest', '=', digest).executeTakeFirst())?.id;
      if (!manifestId) {
        manifestId = randomUUID();
        await tx
          .insertInto('manifests')
          .values({
            id: manifestId,
            repository_id: repositoryId,
            digest,
            media_type: parsed.mediaType,
            artifact_type: parsed.artifactType ?? null,
            subject_digest: parsed.subject?.digest ?? null,
            annotations: parsed.annotations ? JSON.stringify(parsed.annotations) : null,
            size: bytes.length,
            blobs_size: parsed.isIndex ? childSizes : parsed.blobs.reduce((sum, d) => sum + d.size, 0),
            created_at: now,
            updated_at: now,
            touched_at: now,
          })
          .execute();
        const refs = [
          ...(parsed.config ? [parsed.config] : []).map((d) => ({ kind: 'blob', d })),
          ...parsed.layers.map((d) => ({ kind: 'blob', d })),
          ...parsed.manifests.map((d) => ({ kind: 'manifest', d })),
        ].map((r, position) => ({ manifest_id: manifestId!, kind: r.kind, digest: r.d.digest, size: r.d.size, media_type: r.d.mediaType, position }));
        for (const batch of batches(refs, ROWS_PER_INSERT)) await tx.insertInto('manifest_refs').values(batch).execute();
      } else {
        await tx.updateTable('manifests').set({ updated_at: now, touched_at: now }).where('id', '=', manifestId).execute();
      }
      for (const tag of new Set(tags)) {
        await tx
          .insertInto('tags')
          .values({ repository_id: repositoryId, name: tag, manifest_id: manifestId, updated_at: now })
          .onConflict((oc) => oc.columns(['repository_id', 'name']).doUpdateSet({ manifest_id: manifestId!, updated_at: now }))
          .execute();
      }
    });
  }

  /**
   * Inside the push's transaction: re-confirms every reference still exists and refreshes it,
   * so garbage collection cannot remove what this manifest is about to point at.
   */
  private async claimReferences(tx: Pick<Db, 'updateTable'>, repositoryId: string, parsed: ParsedManifest, now: number): Promise<void> {
    const blobDigests = [...new Set(parsed.blobs.map((d) => d.digest))];
    for (const batch of batches(blobDigests, IDS_PER_STATEMENT)) {
      const touched = await tx.updateTable('repository_blobs').set({ created_at: now }).where('repository_id', '=', repositoryId).where('digest', 'in', batch).executeTakeFirst();
      if (Number(touched.numUpdatedRows) !== batch.length) throw new AppError('MANIFEST_BLOB_UNKNOWN', 'a blob this manifest references was removed while it was being pushed; push it again');
    }
    const childDigests = [...new Set(parsed.manifests.map((d) => d.digest))];
    for (const batch of batches(childDigests, IDS_PER_STATEMENT)) {
      const touched = await tx.updateTable('manifests').set({ touched_at: now }).where('repository_id', '=', repositoryId).where('digest', 'in', batch).executeTakeFirst();
      if (Number(touched.numUpdatedRows) !== batch.length) throw new AppError('MANIFEST_BLOB_UNKNOWN', 'a manifest this index references was removed while it was being pushed; push it again');
    }
  }

  /** Finds a manifest by tag or digest. */
  async resolve(repositoryId: string, reference: string): Promise<Manifest> {
    const row = reference.includes(':')
      ? await this.db.selectFrom('manifests').selectAll().where('repository_id', '=', repositoryId).where('digest', '=', reference).executeTakeFirst()
      : await this.db
          .selectFrom('tags as t')
          .innerJoin('manifests as m', 'm.id', 't.manifest_id')
          .selectAll('m')
          .where('t.repository_id', '=', repositoryId)
          .where('t.name', '=', reference)
          .executeTakeFirst();
    if (!row) throw new AppError('MANIFEST_UNKNOWN', `manifest ${reference} is not in this repository`, { detail: { reference } });
    return row;
  }

  async bytes(manifest: Pick<Manifest, 'digest'>): Promise<Buffer> {
    const cached = this.cache.get(manifest.digest);
    if (cached) return cached;
    let stream;
    try {
      const row = await this.db.selectFrom('blobs').select('storage_key').where('digest', '=', manifest.digest).executeTakeFirst();
      stream = await this.driver.read(row?.storage_key ?? blobKey(manifest.digest));
    } catch (err) {
      if (err instanceof BlobNotFoundError) throw new AppError('MANIFEST_UNKNOWN', `manifest ${manifest.digest} is recorded but its bytes are missing`);
      throw err;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    this.cache.set(manifest.digest, bytes);
    return bytes;
  }

  /**
   * Deletes by digest (the manifest, its tags and its link) or by tag (just the tag).
   */
  async delete(repositoryId: string, reference: string): Promise<void> {
    if (!reference.includes(':')) {
      const result = await this.db.deleteFrom('tags').where('repository_id', '=', repositoryId).where('name', '=', reference).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) throw new AppError('MANIFEST_UNKNOWN', `tag ${reference} is not in this repository`, { detail: { tag: reference } });
      return;
    }
    const manifest = await this.resolve(repositoryId, reference);
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('tags').where('manifest_id', '=', manifest.id).execute();
      await tx.deleteFrom('manifest_refs').where('manifest_id', '=', manifest.id).execute();
      await tx.deleteFrom('manifests').where('id', '=', manifest.id).execute();
      await tx.deleteFrom('repository_blobs').where('repository_id', '=', repositoryId).where('digest', '=', manifest.digest).execute();
    });
  }

  /** Manifests whose subject is `digest`, as descriptors, optionally only of one artifact type. */
  async referrers(repositoryId: string, digest: string, artifactType?: string): Promise<Descriptor[]> {
    let query = this.db
      .selectFrom('manifests')
      .select(['digest', 'media_type', 'size', 'artifact_type', 'annotations'])
      .where('repository_id', '=', repositoryId)
      .where('subject_digest', '=', digest);
    if (artifactType !== undefined) query = query.where('artifact_type', '=', artifactType);
    const rows = await query.orderBy('created_at').orderBy('digest').execute();
    return rows.map((r) => {
      const d: Descriptor = { mediaType: r.media_type, digest: r.digest, size: r.size };
      if (r.artifact_type) d.artifactType = r.artifact_type;
      if (r.annotations) d.annotations = JSON.parse(r.annotations) as Record<string, string>;
      return d;
    });
  }

  /** For clients that cannot take an index: the linux/amd64 manifest it lists, if any. */
  async defaultPlatformChild(repositoryId: string, index: Manifest): Promise<Manifest | undefined> {
    const parsed = JSON.parse((await this.bytes(index)).toString('utf8')) as { manifests?: Descriptor[] };
    const child = parsed.manifests?.find((m) => m.platform?.os === 'linux' && m.platform?.architecture === 'amd64');
    if (!child) return undefined;
    return this.resolve(repositoryId, child.digest).catch(() => undefined);
  }

  /** Every referenced blob must be linked here and every child manifest pushed here first. */
  private async checkReferences(repositoryId: string, parsed: ParsedManifest): Promise<number> {
    const blobDigests = [...new Set(parsed.blobs.map((d) => d.digest))];
    const found = new Set<string>();
    for (const batch of batches(blobDigests, IDS_PER_STATEMENT)) {
      const rows = await this.db.selectFrom('repository_blobs').select('digest').where('repository_id', '=', repositoryId).where('digest', 'in', batch).execute();
      for (const r of rows) found.add(r.digest);
    }
    const missingBlob = blobDigests.find((d) => !found.has(d));
    if (missingBlob) throw new AppError('MANIFEST_BLOB_UNKNOWN', `blob ${missingBlob} is not in this repository; push it before the manifest`, { detail: { digest: missingBlob } });
    const childDigests = [...new Set(parsed.manifests.map((d) => d.digest))];
    const children: { digest: string; blobs_size: number }[] = [];
    for (const batch of batches(childDigests, IDS_PER_STATEMENT)) {
      children.push(...(await this.db.selectFrom('manifests').select(['digest', 'blobs_size']).where('repository_id', '=', repositoryId).where('digest', 'in', batch).execute()));
    }
    const have = new Set(children.map((r) => r.digest));
    const missing = childDigests.find((d) => !have.has(d));
    if (missing) throw new AppError('MANIFEST_BLOB_UNKNOWN', `manifest ${missing} is not in this repository; push it before the index`, { detail: { digest: missing } });
    return children.reduce((sum, c) => sum + c.blobs_size, 0);
  }
}

