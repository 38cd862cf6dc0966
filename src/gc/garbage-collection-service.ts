import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db, GcRun } from '../db/index.js';
import { AppError } from '../errors/index.js';
import type { BlobDriver } from '../storage/index.js';
import { RunInterrupted, RunLease } from './run-lease.js';
import { deleteUnlinkedBlobs, removeUntaggedManifests, sweepOrphanedBytes, unlinkUnreferencedBlobs, type OnFreed } from './sweeps.js';
import {
  ACTIVE_GC_STATUSES,
  DEFAULT_GC_TYPE,
  isFinishedGcStatus,
  isGcType,
  removesUnreferencedBlobs,
  removesUntaggedManifests,
  type GcStatus,
  type GcType,
} from './vocabulary.js';

export interface GcOptions {
  /** This node's name; leases carry it (plus a per-process suffix) as their owner. */
  nodeId: string;
  /** Blobs, links and manifests written or touched more recently than this are kept. */
  graceMs: number;
  /** How long a claimed run stays this worker's without renewal (renewed every leaseMs/3). */
  leaseMs: number;
  /** DigitalOcean's way: make the registry read-only and wait out write JWTs before collecting. */
  readOnlyMode: boolean;
  /** The longest a write-scoped JWT lives: the read-only wait. */
  writeTokenTtlMs: number;
  /** Told when a run ends, so the registry's storage usage is refreshed. */
  onFinished?: (registryId: string) => void;
  /** Told how a run ended and what it freed in all (metrics); only the node that ends a run is told. */
  onEnded?: (status: 'succeeded' | 'failed' | 'cancelled', totals: { blobsDeleted: number; freedBytes: number }) => void;
}

/** A run parked in the read-only wait keeps this worker's tick only for waits this short. */
const MAX_IN_TICK_WAIT_MS = 2_000;
/** Runs one tick claims and executes side by side. */
const CLAIMS_PER_TICK = 8;

type Outcome = 'finished' | 'parked' | 'interrupted';

/**
 * Garbage collection runs as DigitalOcean's API presents them, executed by any node.
 *
 * A run is a gc_runs row: `start` inserts it (one active run per registry), a worker's
 * `runPending` claims it with a lease and executes it step by step, recording each status.
 * Runs survive restarts; a run whose worker died is resumed by another node once the lease
 * lapses, from the status it had reached (every step can be repeated).
 *
 * Online by default: the registry keeps accepting pushes and the grace period protects what
 * a push in flight has written. With `readOnlyMode` the registry stops getting write JWTs and
 * the run first waits until every write JWT issued before has expired; `read_only` is cleared
 * whenever a run ends, however it ends (only garbage collection sets it).
 *
 * `blobs_deleted` / `freed_bytes` count objects actually removed from storage and their sizes,
 * incremented in the transaction that deleted each blob's row. Blob deletion is global: blobs
 * linked by no repository at all, also those left behind by another registry's deletion.
 */
export class GarbageCollectionService {
  /** Lease owner of this instance: two processes never share one, even with the same nodeId. */
  private readonly owner: string;
  /** Runs this instance is executing, by id. */
  private readonly executing = new Map<string, RunLease>();

  constructor(
    private readonly db: Db,
    private readonly driver: BlobDriver,
    private readonly logger: Logger,
    private readonly options: GcOptions,
  ) {
    this.owner = `${options.nodeId}#${randomUUID().slice(0, 8)}`;
  }

  /** Requests a run; throws CONFLICT while another run of the registry is active. */
  async start(registry: { id: string; name: string }, type: GcType = DEFAULT_GC_TYPE): Promise<GcRun> {
    if (!isGcType(type)) throw new AppError('UNPROCESSABLE', `type: "${String(type)}" is not a garbage collection type`);
    return this.db.transaction().execute(async (tx) => {
      // A no-op write locks the registry row (PostgreSQL) or the database (SQLite), so two
      // concurrent starts cannot both find no active run.
      const locked = await tx.updateTable('registries').set((eb) => ({ read_only: eb.ref('read_only') })).where('id', '=', registry.id).executeTakeFirst();
      if (Number(locked.numUpdatedRows) === 0) throw new AppError('NOT_FOUND', `registry "${registry.name}" not found`);
      const active = await tx.selectFrom('gc_runs').select('id').where('registry_id', '=', registry.id).where('status', 'in', ACTIVE_GC_STATUSES).executeTakeFirst();
      if (active) throw new AppError('CONFLICT', `garbage collection ${active.id} is already active for registry "${registry.name}"`);
      const now = Date.now();
      const run: GcRun = {
        id: randomUUID(),
        registry_id: registry.id,
        registry_name: registry.name,
        type,
        status: 'requested',
        blobs_deleted: 0,
        freed_bytes: 0,
        created_at: now,
        updated_at: now,
        lease_owner: null,
        lease_expires_at: null,
      };
      await tx.insertInto('gc_runs').values(run).execute();
      return run;
    });
  }

  /** The registry's active run, if any. */
  async active(registryId: string): Promise<GcRun | undefined> {
    return this.db.selectFrom('gc_runs').selectAll().where('registry_id', '=', registryId).where('status', 'in', ACTIVE_GC_STATUSES).orderBy('created_at', 'desc').executeTakeFirst();
  }

  async get(registryId: string, id: string): Promise<GcRun> {
    const run = await this.db.selectFrom('gc_runs').selectAll().where('registry_id', '=', registryId).where('id', '=', id).executeTakeFirst();
    if (!run) throw new AppError('NOT_FOUND', `garbage collection ${id} not found`);
    return run;
  }

  /** The registry's runs, newest first. */
  async list(registryId: string, window: { limit: number; offset: number }): Promise<{ runs: GcRun[]; total: number }> {
    const runs = await this.db
      .selectFrom('gc_runs')
      .selectAll()
      .where('registry_id', '=', registryId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(window.limit)
      .offset(window.offset)
      .execute();
    const count = await this.db.selectFrom('gc_runs').select((eb) => eb.fn.countAll<number>().as('n')).where('registry_id', '=', registryId).executeTakeFirstOrThrow();
    return { runs, total: Number(count.n) };
  }

  /**
   * Cancels a run. A requested run is cancelled at once; a running one goes to `cancelling`
   * and its worker stops at the next step (then `cancelled`, read-only lifted). Cancelling is
   * idempotent: a run already cancelling or cancelled is returned as it is. A run that
   * succeeded or failed cannot be cancelled: PRECONDITION_FAILED.
   */
  async cancel(registryId: string, id: string): Promise<GcRun> {
    for (;;) {
      const run = await this.get(registryId, id);
      if (run.status === 'cancelling' || run.status === 'cancelled') return run;
      if (isFinishedGcStatus(run.status)) throw new AppError('PRECONDITION_FAILED', `garbage collection ${id} has already ${run.status === 'failed' ? 'failed' : 'succeeded'}`);
      const next: GcStatus = run.status === 'requested' ? 'cancelled' : 'cancelling';
      const result = await this.db
        .updateTable('gc_runs')
        .set(next === 'cancelled' ? { status: next, updated_at: Date.now(), lease_owner: null, lease_expires_at: null } : { status: next, updated_at: Date.now() })
        .where('id', '=', id)
        .where('status', '=', run.status)
        .executeTakeFirst();
      // Zero rows: the worker moved the run on meanwhile; look again.
      if (Number(result.numUpdatedRows) > 0) {
        this.executing.get(id)?.requestCancel();
        return this.get(registryId, id);
      }
    }
  }

  /**
   * One worker tick: claims runs nobody holds a live lease on (new ones, parked ones, and
   * those of crashed workers) and executes them. Returns how many this tick finished.
   */
  async runPending(): Promise<number> {
    const now = Date.now();
    const candidates = await this.db
      .selectFrom('gc_runs')
      .select('id')
      .where('status', 'in', ACTIVE_GC_STATUSES)
      .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
      .orderBy('created_at')
      .limit(CLAIMS_PER_TICK)
      .execute();
    const claimed: GcRun[] = [];
    for (const { id } of candidates) {
      if (this.executing.has(id)) continue;
      const run = await RunLease.claim(this.db, id, this.owner, this.options.leaseMs, ACTIVE_GC_STATUSES);
      if (run) claimed.push(run);
    }
    const outcomes = await Promise.all(claimed.map((run) => this.execute(run)));
    return outcomes.filter((o) => o === 'finished').length;
  }

  private async execute(run: GcRun): Promise<Outcome> {
    const lease = new RunLease(this.db, run.id, this.owner, this.options.leaseMs);
    const log = this.logger.child({ gc: run.id, registry: run.registry_name });
    this.executing.set(run.id, lease);
    lease.startRenewing();
    try {
      return await this.steps(run, lease, log);
    } catch (err) {
      if (err instanceof RunInterrupted && err.reason === 'lease lost') {
        log.info('garbage collection left to others: it was cancelled before it started, or another worker holds it now');
        return 'interrupted';
      }
      const cancelled = err instanceof RunInterrupted;
      if (!cancelled) log.error({ err }, 'garbage collection failed');
      try {
        const finished = await this.finish(lease, run, cancelled ? 'cancelled' : 'failed');
        if (finished && cancelled) log.info('garbage collection cancelled');
        return finished ? 'finished' : 'interrupted';
      } catch (finishErr) {
        log.error({ err: finishErr }, 'could not record the end of a garbage collection; another worker will resume it');
        return 'interrupted';
      }
    } finally {
      await lease.stop();
      this.executing.delete(run.id);
    }
  }

  /** Executes the run from the status it is in; every step may be a repeat after a takeover. */
  private async steps(run: GcRun, lease: RunLease, log: Logger): Promise<Outcome> {
    const { graceMs, readOnlyMode, writeTokenTtlMs } = this.options;
    let status = run.status as GcStatus;
    for (;;) {
      switch (status) {
        case 'requested':
          if (readOnlyMode) {
            await lease.advance('requested', 'waiting for write JWTs to expire', async (tx) => {
              await tx.updateTable('registries').set({ read_only: 1 }).where('id', '=', run.registry_id).execute();
            });
            status = 'waiting for write JWTs to expire';
          } else {
            await lease.advance('requested', 'scanning manifests');
            status = 'scanning manifests';
          }
          break;

        case 'waiting for write JWTs to expire': {
          const current = await lease.check();
          const remaining = current.updated_at + writeTokenTtlMs - Date.now();
          if (remaining > MAX_IN_TICK_WAIT_MS) {
            // Do not hold a worker for up to 15 minutes: give the run back and look again later.
            await lease.release();
            return 'parked';
          }
          if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
          await lease.advance('waiting for write JWTs to expire', 'scanning manifests');
          status = 'scanning manifests';
          break;
        }

        case 'scanning manifests':
          if (removesUntaggedManifests(run.type)) {
            const cutoff = Date.now() - graceMs;
            let removed = 0;
            for (const repositoryId of await this.repositoryIds(run.registry_id)) {
              removed += await removeUntaggedManifests(this.db, repositoryId, cutoff, () => lease.checkpoint());
            }
            log.info({ manifestsRemoved: removed }, 'removed untagged manifests');
          }
          if (!removesUnreferencedBlobs(run.type)) return this.succeed(lease, run, log);
          await lease.advance('scanning manifests', 'deleting unreferenced blobs');
          status = 'deleting unreferenced blobs';
          break;

        case 'deleting unreferenced blobs': {
          const cutoff = Date.now() - graceMs;
          let unlinked = 0;
          for (const repositoryId of await this.repositoryIds(run.registry_id)) {
            unlinked += await unlinkUnreferencedBlobs(this.db, repositoryId, cutoff, () => lease.checkpoint());
          }
          const count: OnFreed = async (tx, size, blobs) => {
            await tx
              .updateTable('gc_runs')
              .set((eb) => ({ blobs_deleted: eb('blobs_deleted', '+', blobs), freed_bytes: eb('freed_bytes', '+', size), updated_at: Date.now() }))
              .where('id', '=', run.id)
              .execute();
          };
          const blobs = await deleteUnlinkedBlobs(this.db, this.driver, cutoff, () => lease.checkpoint(), count);
          const orphans = await sweepOrphanedBytes(this.db, this.driver, graceMs, { checkpoint: () => lease.checkpoint(), onFreed: count });
          log.info({ unlinked, blobsDeleted: blobs.blobs, orphansDeleted: orphans.blobs, freedBytes: blobs.bytes + orphans.bytes }, 'deleted unreferenced blobs');
          return this.succeed(lease, run, log);
        }

        case 'cancelling':
          throw new RunInterrupted('cancelled');

        default:
          // Finished meanwhile (e.g. cancelled while requested): nothing left to do here.
          return 'interrupted';
      }
    }
  }

  private async succeed(lease: RunLease, run: GcRun, log: Logger): Promise<Outcome> {
    if (await this.finish(lease, run, 'succeeded')) {
      const row = await this.db.selectFrom('gc_runs').select(['blobs_deleted', 'freed_bytes']).where('id', '=', run.id).executeTakeFirst();
      log.info({ blobsDeleted: row?.blobs_deleted, freedBytes: row?.freed_bytes }, 'garbage collection succeeded');
      return 'finished';
    }
    await lease.check(); // throws: cancelled meanwhile, or no longer ours
    return 'interrupted';
  }

  /** Records the final status and lifts read-only in one transaction; false if the run is no longer ours in the expected state. */
  private async finish(lease: RunLease, run: GcRun, to: 'succeeded' | 'failed' | 'cancelled'): Promise<boolean> {
    const from: readonly GcStatus[] =
      to === 'cancelled' ? ['cancelling'] : to === 'succeeded' ? ['scanning manifests', 'deleting unreferenced blobs'] : ACTIVE_GC_STATUSES;
    return this.db.transaction().execute(async (tx) => {
      const result = await tx
        .updateTable('gc_runs')
        .set({ status: to, updated_at: Date.now(), lease_owner: null, lease_expires_at: null })
        .where('id', '=', run.id)
        .where('lease_owner', '=', lease.owner)
        .where('status', 'in', from)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      await tx.updateTable('registries').set({ read_only: 0 }).where('id', '=', run.registry_id).execute();
      return true;
    }).then((finished) => {
      // Whatever the outcome, links may have changed: the registry's usage is due a refresh.
      if (finished) this.options.onFinished?.(run.registry_id);
      if (finished && this.options.onEnded) void this.reportEnd(run.id, to, this.options.onEnded);
      return finished;
    });
  }

  private async reportEnd(id: string, status: 'succeeded' | 'failed' | 'cancelled', onEnded: NonNullable<GcOptions['onEnded']>): Promise<void> {
    const row = await this.db.selectFrom('gc_runs').select(['blobs_deleted', 'freed_bytes']).where('id', '=', id).executeTakeFirst().catch(() => undefined);
    onEnded(status, { blobsDeleted: row?.blobs_deleted ?? 0, freedBytes: row?.freed_bytes ?? 0 });
  }

  private async repositoryIds(registryId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('repositories').select('id').where('registry_id', '=', registryId).orderBy('id').execute();
    return rows.map((r) => r.id);
  }
}
