import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import { AppError } from '../errors/index.js';
import { tierOfTeam, type Tier, type Tiers } from './tiers.js';
import type { UsageService } from './usage.js';

/** Hooks the push path calls before anything is stored. */
export interface PushQuota {
  /** Before a repository is created by a push. */
  checkNewRepository(registryId: string, name: string): Promise<void>;
  /**
   * Before a blob's bytes are committed or linked into a repository. Called once early (to
   * refuse before storing anything) and again inside the recording transaction with `tx`,
   * where it locks the team first so concurrent pushes cannot both fit under the limit.
   * `uploadId` names the upload whose bytes these are: its own claim is not counted twice.
   */
  checkBlob(repositoryId: string, digest: string, size: number, tx?: Db, uploadId?: string): Promise<void>;
  /**
   * Inside the transaction that opens an upload session, before its row is written: locks the
   * team, then refuses a session beyond the team's cap, or one that would bring a repository
   * holding nothing yet past the tier's repository allowance.
   */
  checkNewUpload(repositoryId: string, tx: Db): Promise<void>;
  /**
   * The bytes of `source`, streamed into upload `uploadId` only as far as the team's storage
   * allowance has room: room is claimed ahead of the bytes (all of `declaredLength` at once
   * when the length is known, in steps otherwise) and a chunk that would cross the limit ends
   * the stream with 403 DENIED before it is written. A stream that fails gives its claim back.
   * `digest`, when the bytes' digest is declared up front (a monolithic push): a blob this
   * registry already holds costs nothing, so its size streams unclaimed.
   */
  meterUpload(repositoryId: string, uploadId: string, source: AsyncIterable<Buffer>, declaredLength?: number, digest?: string): Promise<AsyncIterable<Buffer>>;
  /** Whether the team owning the repository has a storage limit that uploads must be metered against. */
  limitsStorage(repositoryId: string): Promise<boolean>;
}

export interface QuotaOptions {
  /** Upload sessions a team may have open at once; 0 for no cap. */
  maxUploadSessions: number;
}

/** A claim beyond the stored bytes lapses after this unless renewed, so a dead node's claim frees itself. */
export const UPLOAD_CLAIM_LEASE_MS = 60_000;
/** A stream of unknown length claims room this far ahead of its bytes. */
const UPLOAD_CLAIM_STEP = 8 * 1024 * 1024;

type TeamOfRepository = { team_id: string; tier: string; registry_id: string };

/**
 * Enforces the team's tier where bytes arrive: repository allowance and, without overage,
 * storage, counting bytes that uploads in progress hold or have claimed as well as stored
 * ones; and a cap on a team's open upload sessions.
 */
export class TierQuota implements PushQuota {
  /** Tier slugs with a limit to enforce: only their pushes need the team lock. */
  private readonly limitedTiers: string[];

  constructor(
    private readonly db: Db,
    private readonly usage: UsageService,
    private readonly tiers: Tiers,
    private readonly options: QuotaOptions = { maxUploadSessions: 0 },
  ) {
    this.limitedTiers = Object.values(tiers)
      .filter((t) => !unlimited(t))
      .map((t) => t.slug);
  }

  async checkNewRepository(registryId: string, name: string): Promise<void> {
    const team = await this.teamOfRegistry(registryId);
    await this.checkRepositoryAllowance(team.id, tierOfTeam(this.tiers, team), { registryId, name });
  }

  async checkBlob(repositoryId: string, digest: string, size: number, tx?: Db, uploadId?: string): Promise<void> {
    // The lock is the transaction's first statement: a write, so SQLite takes its write lock
    // before reading anything (a read first could not be upgraded once another process wrote).
    if (tx) await this.lockTeam(tx, repositoryId, this.limitedTiers);
    const q = tx ?? this.db;
    const row = await this.teamOfRepository(repositoryId, q);
    const tier = tierOfTeam(this.tiers, row);
    if (unlimited(tier)) return;
    // A repository that holds nothing does not count; content arriving in it counts it again.
    if (tier.included_repositories !== 0 && !(await this.holdsContent(repositoryId, q))) await this.checkRepositoryAllowance(row.team_id, tier, repositoryId, q);
    if (tier.allow_storage_overage) return;
    // Bytes already linked somewhere in this registry are not counted again.
    const already = await q
      .selectFrom('repository_blobs as rb')
      .innerJoin('repositories as r', 'r.id', 'rb.repository_id')
      .select('rb.digest')
      .where('r.registry_id', '=', row.registry_id)
      .where('rb.digest', '=', digest)
      .executeTakeFirst();
    if (already) return;
    const stored = await this.usage.teamBytes(row.team_id, q);
    const uploading = await this.uploadBytes(row.team_id, q, uploadId);
    if (stored + uploading.bytes + size > tier.included_storage_bytes) {
      throw storageLimit(tier, stored, uploading, `this blob needs ${size} more`);
    }
  }

  async checkNewUpload(repositoryId: string, tx: Db): Promise<void> {
    // The session cap holds on every tier, so every team is locked here.
    await this.lockTeam(tx, repositoryId);
    const row = await this.teamOfRepository(repositoryId, tx);
    const cap = this.options.maxUploadSessions;
    if (cap > 0) {
      const open = await tx
        .selectFrom('uploads as u')
        .innerJoin('repositories as r', 'r.id', 'u.repository_id')
        .innerJoin('registries as g', 'g.id', 'r.registry_id')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('g.team_id', '=', row.team_id)
        .executeTakeFirstOrThrow();
      if (Number(open.n) >= cap) {
        throw new AppError(
          'TOOMANYREQUESTS',
          `this team has ${Number(open.n)} upload sessions open, the most it may have at once; finish or cancel some (DELETE …/blobs/uploads/<uuid>), or wait until idle ones expire`,
        );
      }
    }
    const tier = tierOfTeam(this.tiers, row);
    if (tier.included_repositories !== 0 && !(await this.holdsContent(repositoryId, tx, true))) {
      await this.checkRepositoryAllowance(row.team_id, tier, repositoryId, tx);
    }
  }

  async limitsStorage(repositoryId: string): Promise<boolean> {
    const row = await this.teamOfRepository(repositoryId, this.db);
    return !tierOfTeam(this.tiers, row).allow_storage_overage;
  }

  async meterUpload(repositoryId: string, uploadId: string, source: AsyncIterable<Buffer>, declaredLength?: number, digest?: string): Promise<AsyncIterable<Buffer>> {
    const row = await this.teamOfRepository(repositoryId, this.db);
    const tier = tierOfTeam(this.tiers, row);
    if (tier.allow_storage_overage) return source;
    const held = digest === undefined ? undefined : await this.heldInRegistry(row.registry_id, digest);
    return this.metered(row.team_id, uploadId, source, declaredLength, held ?? 0);
  }

  /** `free` bytes of the stream cost nothing; claims cover only what comes beyond them. */
  private async *metered(teamId: string, uploadId: string, source: AsyncIterable<Buffer>, declaredLength: number | undefined, free: number): AsyncIterable<Buffer> {
    let granted = 0;
    let renewAt = 0;
    let finished = false;
    const claim = async (atLeast: number, wanted: number) => {
      granted = await this.claimRoom(teamId, uploadId, atLeast, wanted);
      renewAt = Date.now() + UPLOAD_CLAIM_LEASE_MS / 2;
    };
    try {
      // A known length is claimed whole, so a chunk that cannot fit is refused before it is read.
      const declared = declaredLength === undefined ? 0 : Math.max(0, declaredLength - free);
      if (declared > 0) await claim(declared, declared);
      let streamed = 0;
      for await (const chunk of source) {
        streamed += chunk.length;
        const charged = Math.max(0, streamed - free);
        if (charged > granted) await claim(charged, charged + UPLOAD_CLAIM_STEP);
        else if (granted > 0 && Date.now() >= renewAt) await claim(charged, granted);
        yield chunk;
      }
      finished = true;
    } finally {
      // On success the caller records the bytes and clears the claim in one statement.
      if (!finished) await this.releaseClaim(uploadId).catch(() => undefined);
    }
  }

  /**
   * Lets the upload grow to its stored bytes plus `wanted` (at least `atLeast`), if the team's
   * allowance has the room; under the team lock, so two streams never claim the same room.
   */
  private async claimRoom(teamId: string, uploadId: string, atLeast: number, wanted: number): Promise<number> {
    return this.db.transaction().execute(async (tx) => {
      await tx.updateTable('teams').set((eb) => ({ tier: eb.ref('tier') })).where('id', '=', teamId).execute();
      const team = await tx.selectFrom('teams').select('tier').where('id', '=', teamId).executeTakeFirstOrThrow();
      const tier = tierOfTeam(this.tiers, team);
      const upload = await tx.selectFrom('uploads').select('received_bytes').where('id', '=', uploadId).executeTakeFirst();
      if (!upload) throw new AppError('BLOB_UPLOAD_UNKNOWN', `upload ${uploadId} was cancelled or has expired`, { detail: { uuid: uploadId } });
      if (tier.allow_storage_overage) wanted = Math.max(wanted, atLeast);
      else {
        const stored = await this.usage.teamBytes(teamId, tx);
        const uploading = await this.uploadBytes(teamId, tx, uploadId);
        const room = tier.included_storage_bytes - stored - uploading.bytes - upload.received_bytes;
        if (room < atLeast) {
          throw storageLimit(tier, stored, uploading, `this upload already holds ${upload.received_bytes} bytes and needs at least ${atLeast} more`);
        }
        wanted = Math.min(wanted, room);
      }
      await tx.updateTable('uploads').set({ reserved_bytes: wanted, reserved_until: Date.now() + UPLOAD_CLAIM_LEASE_MS }).where('id', '=', uploadId).execute();
      return wanted;
    });
  }

  /** The size of the blob when some repository of the registry links it. */
  private async heldInRegistry(registryId: string, digest: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('repository_blobs as rb')
      .innerJoin('repositories as r', 'r.id', 'rb.repository_id')
      .innerJoin('blobs as b', 'b.digest', 'rb.digest')
      .select('b.size')
      .where('r.registry_id', '=', registryId)
      .where('rb.digest', '=', digest)
      .limit(1)
      .executeTakeFirst();
    return row?.size;
  }

  private async releaseClaim(uploadId: string): Promise<void> {
    await this.db.updateTable('uploads').set({ reserved_bytes: 0, reserved_until: null }).where('id', '=', uploadId).execute();
  }

  /** What the team's uploads in progress hold: stored bytes plus live claims, `except` left out. */
  private async uploadBytes(teamId: string, q: Db, except?: string): Promise<{ bytes: number; sessions: number }> {
    let query = q
      .selectFrom('uploads as u')
      .innerJoin('repositories as r', 'r.id', 'u.repository_id')
      .innerJoin('registries as g', 'g.id', 'r.registry_id')
      .select([
        sql<number>`coalesce(sum(u.received_bytes + case when u.reserved_until > ${Date.now()} then u.reserved_bytes else 0 end), 0)`.as('bytes'),
        (eb) => eb.fn.countAll<number>().as('sessions'),
      ])
      .where('g.team_id', '=', teamId);
    if (except !== undefined) query = query.where('u.id', '!=', except);
    const row = await query.executeTakeFirstOrThrow();
    return { bytes: Number(row.bytes), sessions: Number(row.sessions) };
  }

  /**
   * A no-op write on the team of the repository: a row lock on PostgreSQL, the write lock on
   * SQLite, held until the caller commits. Only teams on `tiers` when given.
   */
  private async lockTeam(tx: Db, repositoryId: string, tiers?: string[]): Promise<void> {
    if (tiers?.length === 0) return;
    let query = tx
      .updateTable('teams')
      .set((eb) => ({ tier: eb.ref('tier') }))
      .where('id', '=', (eb) =>
        eb.selectFrom('repositories as r').innerJoin('registries as g', 'g.id', 'r.registry_id').select('g.team_id').where('r.id', '=', repositoryId),
      );
    if (tiers) query = query.where('tier', 'in', tiers);
    await query.execute();
  }

  /** Refuses one more repository when the others already use the tier's allowance. */
  private async checkRepositoryAllowance(teamId: string, tier: Tier, except?: string | { registryId: string; name: string }, q: Db = this.db): Promise<void> {
    if (tier.included_repositories === 0) return;
    const count = await this.usage.teamRepositories(teamId, except, q);
    if (count >= tier.included_repositories) {
      throw new AppError(
        'DENIED',
        `the ${tier.name} tier includes ${tier.included_repositories} repositor${tier.included_repositories === 1 ? 'y' : 'ies'} and this team has ${count}; delete one or upgrade the subscription`,
      );
    }
  }

  private async holdsContent(repositoryId: string, q: Db, countUploads = false): Promise<boolean> {
    const manifest = await q.selectFrom('manifests').select('id').where('repository_id', '=', repositoryId).limit(1).executeTakeFirst();
    const link = await q.selectFrom('repository_blobs').select('digest').where('repository_id', '=', repositoryId).limit(1).executeTakeFirst();
    const upload = countUploads ? await q.selectFrom('uploads').select('id').where('repository_id', '=', repositoryId).limit(1).executeTakeFirst() : undefined;
    return manifest !== undefined || link !== undefined || upload !== undefined;
  }

  private async teamOfRepository(repositoryId: string, q: Db): Promise<TeamOfRepository> {
    return q
      .selectFrom('repositories as r')
      .innerJoin('registries as g', 'g.id', 'r.registry_id')
      .innerJoin('teams as t', 't.id', 'g.team_id')
      .select(['t.id as team_id', 't.tier', 'g.id as registry_id'])
      .where('r.id', '=', repositoryId)
      .executeTakeFirstOrThrow();
  }

  private async teamOfRegistry(registryId: string): Promise<{ id: string; tier: string }> {
    return this.db
      .selectFrom('registries as g')
      .innerJoin('teams as t', 't.id', 'g.team_id')
      .select(['t.id', 't.tier'])
      .where('g.id', '=', registryId)
      .executeTakeFirstOrThrow();
  }
}

function unlimited(tier: Tier): boolean {
  return tier.included_repositories === 0 && tier.allow_storage_overage;
}

function storageLimit(tier: Tier, stored: number, uploading: { bytes: number; sessions: number }, need: string): AppError {
  const inFlight = uploading.sessions > 0 ? ` and ${uploading.bytes} are held by ${uploading.sessions} other upload${uploading.sessions === 1 ? '' : 's'} in progress` : '';
  return new AppError(
    'DENIED',
    `storage limit reached: the ${tier.name} tier includes ${tier.included_storage_bytes} bytes, ${stored} are used${inFlight}; ${need}. Delete images and run garbage collection, finish or cancel unfinished uploads (idle ones expire), or upgrade`,
  );
}

/** No limits (admin tools, tests of other behaviour). */
export const NO_QUOTA: PushQuota = {
  async checkNewRepository() {},
  async checkBlob() {},
  async checkNewUpload() {},
  async meterUpload(_repositoryId, _uploadId, source) {
    return source;
  },
  async limitsStorage() {
    return false;
  },
};
