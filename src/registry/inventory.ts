import { sql } from 'kysely';
import { bytewise, inBatches, type Db, type Dialect } from '../db/index.js';
import { AppError } from '../errors/index.js';
import { ManifestRelations, type ChildSummary, type ReadManifest, type Referrer } from './manifest-relations.js';

export interface ManifestSummary {
  digest: string;
  repository: string;
  compressedSizeBytes: number;
  sizeBytes: number;
  updatedAt: number;
  tags: string[];
  /** The config first, then the layers in order; `sizeBytes` once the size job measured it. */
  blobs: { digest: string; compressedSizeBytes: number; mediaType: string | undefined; sizeBytes: number | undefined }[];
  mediaType: string;
  artifactType: string | undefined;
  subjectDigest: string | undefined;
  /** An index's children with their platforms and sizes. */
  manifests: ChildSummary[];
  /** Manifests whose subject this is (signatures, SBOMs, attestations). */
  referrers: Referrer[];
}

/** A manifest row as the descriptions need it. */
interface ManifestRow {
  id: string;
  repository_id: string;
  repository: string;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  subject_digest: string | null;
  blobs_size: number;
  updated_at: number;
}

const MANIFEST_COLUMNS = ['m.id', 'm.repository_id', 'm.digest', 'm.media_type', 'm.artifact_type', 'm.subject_digest', 'm.blobs_size', 'm.updated_at'] as const;

export interface TagSummary {
  tag: string;
  repository: string;
  manifestDigest: string;
  compressedSizeBytes: number;
  sizeBytes: number;
  updatedAt: number;
}

export interface RepositorySummary {
  name: string;
  tagCount: number;
  manifestCount: number;
  latestManifest: ManifestSummary | undefined;
  latestTag: TagSummary | undefined;
  /** Distinct bytes linked into the repository (layers, configs, manifests), until GC unlinks them. */
  storageUsageBytes: number;
}

/** Offset paging (page numbers) or keyset paging (after a name), as the API asks. */
export type Window = { limit: number; offset: number } | { limit: number; after: string | undefined };

/**
 * What the management API reports about repositories, tags and manifests. Only repositories
 * holding at least one manifest exist for it, as for the catalog.
 */
export class Inventory {
  private readonly relations: ManifestRelations;

  /** `readManifest` lets listings name an index's platforms, which only its bytes hold. */
  constructor(
    private readonly db: Db,
    private readonly dialect: Dialect,
    readManifest?: ReadManifest,
  ) {
    this.relations = new ManifestRelations(db, readManifest);
  }

  async countRepositories(registryId: string): Promise<number> {
    const row = await this.db
      .selectFrom('repositories as r')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('r.registry_id', '=', registryId)
      .where((eb) => eb.exists(eb.selectFrom('manifests as m').select('m.id').whereRef('m.repository_id', '=', 'r.id')))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async listRepositories(registryId: string, window: Window): Promise<RepositorySummary[]> {
    const name = bytewise(this.dialect, 'r.name');
    let query = this.db
      .selectFrom('repositories as r')
      .select(['r.id', 'r.name'])
      .where('r.registry_id', '=', registryId)
      .where((eb) => eb.exists(eb.selectFrom('manifests as m').select('m.id').whereRef('m.repository_id', '=', 'r.id')))
      .orderBy(name)
      .limit(window.limit);
    if ('offset' in window) query = query.offset(window.offset);
    else if (window.after !== undefined) query = query.where(name, '>', window.after);
    const repositories = await query.execute();
    if (repositories.length === 0) return [];
    const ids = repositories.map((r) => r.id);

    const counts = await this.db
      .selectFrom('manifests as m')
      .select(['m.repository_id', (eb) => eb.fn.countAll<number>().as('manifests')])
      .where('m.repository_id', 'in', ids)
      .groupBy('m.repository_id')
      .execute();
    const tagCounts = await this.db
      .selectFrom('tags as t')
      .select(['t.repository_id', (eb) => eb.fn.countAll<number>().as('tags')])
      .where('t.repository_id', 'in', ids)
      .groupBy('t.repository_id')
      .execute();
    // The newest manifest of each repository in one pass over its manifests (a correlated
    // max() per row is quadratic: an index of 10,000 children made this take half a minute).
    // Pushing an index touches its children's updated_at too; the index, created last, wins.
    const latest = await this.db
      .selectFrom((eb) =>
        eb
          .selectFrom('manifests as m')
          .select([
            ...MANIFEST_COLUMNS,
            sql<number>`row_number() over (partition by m.repository_id order by m.updated_at desc, m.created_at desc, m.digest)`.as('rank'),
          ])
          .where('m.repository_id', 'in', ids)
          .as('ranked'),
      )
      .select(['ranked.id', 'ranked.repository_id', 'ranked.digest', 'ranked.media_type', 'ranked.artifact_type', 'ranked.subject_digest', 'ranked.blobs_size', 'ranked.updated_at'])
      .where('ranked.rank', '=', 1)
      .execute();
    const latestByRepo = new Map(latest.map((m) => [m.repository_id, m]));
    const nameOf = new Map(repositories.map((r) => [r.id, r.name]));
    const summaries = await this.describeManifests([...latestByRepo.values()].map((m) => ({ ...m, repository: nameOf.get(m.repository_id)! })));
    const latestTags = await this.latestTags(ids, nameOf);
    const stored = await this.db
      .selectFrom('repository_blobs as rb')
      .innerJoin('blobs as b', 'b.digest', 'rb.digest')
      .select(['rb.repository_id', (eb) => eb.fn.sum<number>('b.size').as('bytes')])
      .where('rb.repository_id', 'in', ids)
      .groupBy('rb.repository_id')
      .execute();

    return repositories.map((r) => ({
      name: r.name,
      manifestCount: Number(counts.find((c) => c.repository_id === r.id)?.manifests ?? 0),
      tagCount: Number(tagCounts.find((c) => c.repository_id === r.id)?.tags ?? 0),
      latestManifest: summaries.find((s) => s.id === latestByRepo.get(r.id)?.id)?.summary,
      latestTag: latestTags.get(r.id),
      storageUsageBytes: Number(stored.find((b) => b.repository_id === r.id)?.bytes ?? 0),
    }));
  }

  async findRepository(registryId: string, name: string): Promise<{ id: string; name: string }> {
    const repository = await this.db
      .selectFrom('repositories as r')
      .select(['r.id', 'r.name'])
      .where('r.registry_id', '=', registryId)
      .where('r.name', '=', name)
      .where((eb) => eb.exists(eb.selectFrom('manifests as m').select('m.id').whereRef('m.repository_id', '=', 'r.id')))
      .executeTakeFirst();
    if (!repository) throw new AppError('NOT_FOUND', `repository "${name}" not found`);
    return repository;
  }

  async countTags(repositoryId: string): Promise<number> {
    const row = await this.db.selectFrom('tags').select((eb) => eb.fn.countAll<number>().as('n')).where('repository_id', '=', repositoryId).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Tags, most recently updated first. */
  async listTags(repository: { id: string; name: string }, window: { limit: number; offset: number }): Promise<TagSummary[]> {
    const rows = await this.db
      .selectFrom('tags as t')
      .innerJoin('manifests as m', 'm.id', 't.manifest_id')
      .select(['t.name', 't.updated_at', 'm.id as manifest_id', 'm.digest', 'm.blobs_size'])
      .where('t.repository_id', '=', repository.id)
      .orderBy('t.updated_at', 'desc')
      .orderBy(bytewise(this.dialect, 't.name'))
      .limit(window.limit)
      .offset(window.offset)
      .execute();
    const sizes = await this.uncompressedSizes(rows.map((r) => r.manifest_id));
    return rows.map((r) => ({
      tag: r.name,
      repository: repository.name,
      manifestDigest: r.digest,
      compressedSizeBytes: r.blobs_size,
      sizeBytes: sizes.get(r.manifest_id) ?? 0,
      updatedAt: r.updated_at,
    }));
  }

  async countManifests(repositoryId: string): Promise<number> {
    const row = await this.db.selectFrom('manifests').select((eb) => eb.fn.countAll<number>().as('n')).where('repository_id', '=', repositoryId).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Manifests (tagged or not), most recently updated first; among equals (an index and the children it touched), the newest. */
  async listManifests(repository: { id: string; name: string }, window: { limit: number; offset: number }): Promise<ManifestSummary[]> {
    const rows = await this.db
      .selectFrom('manifests as m')
      .select(MANIFEST_COLUMNS)
      .where('m.repository_id', '=', repository.id)
      .orderBy('m.updated_at', 'desc')
      .orderBy('m.created_at', 'desc')
      .orderBy('m.digest')
      .limit(window.limit)
      .offset(window.offset)
      .execute();
    return (await this.describeManifests(rows.map((r) => ({ ...r, repository: repository.name })))).map((s) => s.summary);
  }

  /** Deletes a repository with all its tags and manifests; its blobs become garbage. */
  async deleteRepository(registryId: string, name: string): Promise<void> {
    const repository = await this.findRepository(registryId, name);
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('tags').where('repository_id', '=', repository.id).execute();
      await tx.deleteFrom('manifest_refs').where('manifest_id', 'in', tx.selectFrom('manifests').select('id').where('repository_id', '=', repository.id)).execute();
      await tx.deleteFrom('manifests').where('repository_id', '=', repository.id).execute();
      await tx.deleteFrom('repository_blobs').where('repository_id', '=', repository.id).execute();
      await tx.deleteFrom('uploads').where('repository_id', '=', repository.id).execute();
      await tx.deleteFrom('repositories').where('id', '=', repository.id).execute();
    });
  }

  private async describeManifests(manifests: ManifestRow[]): Promise<{ id: string; summary: ManifestSummary }[]> {
    if (manifests.length === 0) return [];
    const ids = manifests.map((m) => m.id);
    const tags = await inBatches(ids, (batch) => this.db.selectFrom('tags').select(['manifest_id', 'name']).where('manifest_id', 'in', batch).orderBy(bytewise(this.dialect, 'name')).execute());
    const blobs = await inBatches(ids, (batch) =>
      this.db
        .selectFrom('manifest_refs as r')
        .leftJoin('blobs as b', 'b.digest', 'r.digest')
        .select(['r.manifest_id', 'r.digest', 'r.size', 'r.media_type', 'b.uncompressed_size'])
        .where('r.manifest_id', 'in', batch)
        .where('r.kind', '=', 'blob')
        .orderBy('r.manifest_id')
        .orderBy('r.position')
        .execute(),
    );
    const sizes = await this.uncompressedSizes(ids);
    const { children, referrers } = await this.relations.describe(manifests, (manifestIds) => this.uncompressedSizes(manifestIds));
    const tagsOf = groupBy(tags, (t) => t.manifest_id);
    const blobsOf = groupBy(blobs, (b) => b.manifest_id);
    return manifests.map((m) => ({
      id: m.id,
      summary: {
        digest: m.digest,
        repository: m.repository,
        compressedSizeBytes: m.blobs_size,
        sizeBytes: sizes.get(m.id) ?? 0,
        updatedAt: m.updated_at,
        tags: (tagsOf.get(m.id) ?? []).map((t) => t.name),
        blobs: (blobsOf.get(m.id) ?? []).map((b) => ({ digest: b.digest, compressedSizeBytes: b.size, mediaType: b.media_type ?? undefined, sizeBytes: b.uncompressed_size ?? undefined })),
        mediaType: m.media_type,
        artifactType: m.artifact_type ?? undefined,
        subjectDigest: m.subject_digest ?? undefined,
        manifests: children.get(m.id) ?? [],
        referrers: referrers.get(m.id) ?? [],
      },
    }));
  }

  /**
   * Uncompressed size per manifest: the sum over its blobs (an index: over its children's
   * blobs) once every one is known; absent while the size job has not measured them all.
   */
  private async uncompressedSizes(manifestIds: string[]): Promise<Map<string, number>> {
    const result = new Map<string, number>();
    if (manifestIds.length === 0) return result;
    const direct = await inBatches(manifestIds, (batch) =>
      this.db
        .selectFrom('manifest_refs as r')
        .leftJoin('blobs as b', 'b.digest', 'r.digest')
        .select([
          'r.manifest_id',
          (eb) => eb.fn.sum<number>(eb.fn.coalesce('b.uncompressed_size', sql<number>`0`)).as('total'),
          (eb) => eb.fn.countAll<number>().as('refs'),
          (eb) => eb.fn.count<number>('b.uncompressed_size').as('known'),
        ])
        .where('r.manifest_id', 'in', batch)
        .where('r.kind', '=', 'blob')
        .groupBy('r.manifest_id')
        .execute(),
    );
    for (const row of direct) if (Number(row.refs) === Number(row.known)) result.set(row.manifest_id, Number(row.total));
    const indexChildren = await this.childrenOf(manifestIds);
    if (indexChildren.length > 0) {
      const childSizes = await this.uncompressedSizes([...new Set(indexChildren.map((c) => c.child_id))]);
      for (const [parent, children] of groupBy(indexChildren, (c) => c.manifest_id)) {
        if (children.every((c) => childSizes.has(c.child_id))) result.set(parent, children.reduce((s, c) => s + childSizes.get(c.child_id)!, 0));
      }
    }
    return result;
  }

  /**
   * The child manifests (present in the same repository) of the given indexes. Single-table
   * lookups on unique keys only: a join here let PostgreSQL, with statistics not yet updated
   * after a large index arrived, scan every manifest once per child (half a minute for an
   * index of 11,000).
   */
  private async childrenOf(manifestIds: string[]): Promise<{ manifest_id: string; child_id: string }[]> {
    const refs = await inBatches(manifestIds, (batch) =>
      this.db.selectFrom('manifest_refs').select(['manifest_id', 'digest']).where('manifest_id', 'in', batch).where('kind', '=', 'manifest').execute(),
    );
    if (refs.length === 0) return [];
    const parents = await inBatches([...new Set(refs.map((r) => r.manifest_id))], (batch) => this.db.selectFrom('manifests').select(['id', 'repository_id']).where('id', 'in', batch).execute());
    const repositoryOf = new Map(parents.map((p) => [p.id, p.repository_id]));
    const childId = new Map<string, string>();
    for (const [repositoryId, ofRepository] of groupBy(refs, (r) => repositoryOf.get(r.manifest_id) ?? '')) {
      if (!repositoryId) continue;
      const digests = [...new Set(ofRepository.map((r) => r.digest))];
      const children = await inBatches(digests, (batch) => this.db.selectFrom('manifests').select(['id', 'digest']).where('repository_id', '=', repositoryId).where('digest', 'in', batch).execute());
      for (const c of children) childId.set(`${repositoryId} ${c.digest}`, c.id);
    }
    return refs.flatMap((r) => {
      const id = childId.get(`${repositoryOf.get(r.manifest_id)} ${r.digest}`);
      return id ? [{ manifest_id: r.manifest_id, child_id: id }] : [];
    });
  }

  private async latestTags(repositoryIds: string[], nameOf: Map<string, string>): Promise<Map<string, TagSummary>> {
    const rows = await this.db
      .selectFrom('tags as t')
      .innerJoin('manifests as m', 'm.id', 't.manifest_id')
      .select(['t.repository_id', 't.name', 't.updated_at', 'm.id as manifest_id', 'm.digest', 'm.blobs_size'])
      .where('t.repository_id', 'in', repositoryIds)
      .orderBy('t.updated_at', 'desc')
      .orderBy(bytewise(this.dialect, 't.name'))
      .execute();
    const firsts = new Map<string, (typeof rows)[number]>();
    for (const r of rows) if (!firsts.has(r.repository_id)) firsts.set(r.repository_id, r);
    const sizes = await this.uncompressedSizes([...firsts.values()].map((r) => r.manifest_id));
    const out = new Map<string, TagSummary>();
    for (const [repo, r] of firsts) {
      out.set(repo, {
        tag: r.name,
        repository: nameOf.get(repo)!,
        manifestDigest: r.digest,
        compressedSizeBytes: r.blobs_size,
        sizeBytes: sizes.get(r.manifest_id) ?? 0,
        updatedAt: r.updated_at,
      });
    }
    return out;
  }
}

/** Runs a query that takes a list once per slice of it and concatenates the rows. */
function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
