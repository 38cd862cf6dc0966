import { inBatches, type Db } from '../db/index.js';

/** A platform as an image index names it. */
export interface Platform {
  os?: string;
  architecture?: string;
  variant?: string;
  'os.version'?: string;
}

/** A manifest an image index lists: a platform image, or an attestation stored beside them. */
export interface IndexChild {
  digest: string;
  mediaType: string | undefined;
  platform: Platform | undefined;
  annotations: Record<string, string> | undefined;
  /** The child's row in the same repository, when it is there (it always is after a valid push). */
  manifestId: string | undefined;
}

/** An index's child as the API describes it: its platform and its sizes (once measured). */
export interface ChildSummary {
  digest: string;
  mediaType: string | undefined;
  platform: Platform | undefined;
  annotations: Record<string, string> | undefined;
  compressedSizeBytes: number | undefined;
  sizeBytes: number | undefined;
}

/** A manifest whose `subject` is another: a signature, an SBOM, an attestation. */
export interface Referrer {
  digest: string;
  mediaType: string;
  artifactType: string | undefined;
  annotations: Record<string, string> | undefined;
}

/** Reads a manifest's bytes by digest (cached by the manifest service). */
export type ReadManifest = (digest: string) => Promise<Buffer>;

interface IndexDescriptor {
  digest?: unknown;
  platform?: unknown;
  annotations?: unknown;
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * What the management API adds to DigitalOcean's manifest description so a person can see an
 * image's shape: an index's children with their platforms, and the referrers of a manifest.
 * Platforms live only in the index's bytes, so those are read (through the manifest cache).
 */
export class ManifestRelations {
  constructor(
    private readonly db: Db,
    private readonly readManifest?: ReadManifest,
  ) {}

  /**
   * For each of `manifests` (by id): an index's children with their sizes, and the referrers.
   * `sizesOf` gives uncompressed sizes by manifest id (absent until measured).
   */
  async describe(
    manifests: { id: string; repository_id: string; digest: string }[],
    sizesOf: (manifestIds: string[]) => Promise<Map<string, number>>,
  ): Promise<{ children: Map<string, ChildSummary[]>; referrers: Map<string, Referrer[]> }> {
    const children = new Map<string, ChildSummary[]>();
    const referrers = new Map<string, Referrer[]>();
    for (const repositoryId of new Set(manifests.map((m) => m.repository_id))) {
      const own = manifests.filter((m) => m.repository_id === repositoryId);
      const listed = await this.indexChildren(repositoryId, own);
      const childIds = [...listed.values()].flat().flatMap((c) => (c.manifestId ? [c.manifestId] : []));
      const sizes = await sizesOf(childIds);
      const rows = await inBatches(childIds, (batch) => this.db.selectFrom('manifests').select(['id', 'blobs_size']).where('id', 'in', batch).execute());
      const blobsSizeOf = new Map(rows.map((r) => [r.id, r.blobs_size]));
      for (const [indexId, list] of listed) {
        children.set(
          indexId,
          list.map((c) => ({
            digest: c.digest,
            mediaType: c.mediaType,
            platform: c.platform,
            annotations: c.annotations,
            compressedSizeBytes: c.manifestId ? blobsSizeOf.get(c.manifestId) : undefined,
            sizeBytes: c.manifestId ? sizes.get(c.manifestId) : undefined,
          })),
        );
      }
      const bySubject = await this.referrers(repositoryId, own.map((m) => m.digest));
      for (const m of own) {
        const list = bySubject.get(m.digest);
        if (list) referrers.set(m.id, list);
      }
    }
    return { children, referrers };
  }

  /** Children of each index among `manifests`, in the order the index lists them. */
  private async indexChildren(repositoryId: string, manifests: { id: string; digest: string }[]): Promise<Map<string, IndexChild[]>> {
    const result = new Map<string, IndexChild[]>();
    if (manifests.length === 0) return result;
    // An index may list tens of thousands of children: lists go in slices, lookups by map.
    const refs = await inBatches(
      manifests.map((m) => m.id),
      (batch) =>
        this.db
          .selectFrom('manifest_refs')
          .select(['manifest_id', 'digest', 'media_type'])
          .where('manifest_id', 'in', batch)
          .where('kind', '=', 'manifest')
          .orderBy('manifest_id')
          .orderBy('position')
          .execute(),
    );
    if (refs.length === 0) return result;
    const rows = await inBatches([...new Set(refs.map((r) => r.digest))], (batch) =>
      this.db.selectFrom('manifests').select(['id', 'digest']).where('repository_id', '=', repositoryId).where('digest', 'in', batch).execute(),
    );
    const idOf = new Map(rows.map((r) => [r.digest, r.id]));
    const refsOf = new Map<string, typeof refs>();
    for (const r of refs) refsOf.set(r.manifest_id, [...(refsOf.get(r.manifest_id) ?? []), r]);
    for (const index of manifests) {
      const own = refsOf.get(index.id) ?? [];
      if (own.length === 0) continue;
      const described = await this.descriptorsOf(index.digest);
      const describedByDigest = new Map((described ?? []).map((d) => [d.digest, d]));
      result.set(
        index.id,
        own.map((r, i) => {
          // The refs keep the index's order, so the i-th descriptor is this child's.
          const d = described?.[i]?.digest === r.digest ? described[i] : describedByDigest.get(r.digest);
          const platform = d?.platform && typeof d.platform === 'object' ? (stringRecord(d.platform) as Platform | undefined) : undefined;
          return { digest: r.digest, mediaType: r.media_type ?? undefined, platform, annotations: stringRecord(d?.annotations), manifestId: idOf.get(r.digest) };
        }),
      );
    }
    return result;
  }

  /** Referrers of each digest in the repository, oldest first. */
  private async referrers(repositoryId: string, digests: string[]): Promise<Map<string, Referrer[]>> {
    const result = new Map<string, Referrer[]>();
    if (digests.length === 0) return result;
    const rows = await inBatches([...new Set(digests)], (batch) =>
      this.db
        .selectFrom('manifests')
        .select(['digest', 'media_type', 'artifact_type', 'annotations', 'subject_digest', 'created_at'])
        .where('repository_id', '=', repositoryId)
        .where('subject_digest', 'in', batch)
        .execute(),
    );
    rows.sort((a, b) => a.created_at - b.created_at || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
    for (const r of rows) {
      const list = result.get(r.subject_digest!) ?? [];
      list.push({
        digest: r.digest,
        mediaType: r.media_type,
        artifactType: r.artifact_type ?? undefined,
        annotations: r.annotations ? stringRecord(JSON.parse(r.annotations)) : undefined,
      });
      result.set(r.subject_digest!, list);
    }
    return result;
  }

  /** The index's `manifests` descriptors, or undefined when its bytes cannot be read. */
  private async descriptorsOf(digest: string): Promise<(IndexDescriptor & { digest: string })[] | undefined> {
    if (!this.readManifest) return undefined;
    try {
      const parsed = JSON.parse((await this.readManifest(digest)).toString('utf8')) as { manifests?: unknown };
      if (!Array.isArray(parsed.manifests)) return undefined;
      return parsed.manifests.filter((d): d is IndexDescriptor & { digest: string } => typeof (d as IndexDescriptor)?.digest === 'string');
    } catch {
      // Bytes missing or unreadable: the children are still listed, without platforms.
      return undefined;
    }
  }
}
