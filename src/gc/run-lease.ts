import type { Db, GcRun } from '../db/index.js';
import type { GcStatus } from './vocabulary.js';

/** Why a worker stops executing a run before finishing it. */
export class RunInterrupted extends Error {
  constructor(readonly reason: 'cancelled' | 'lease lost') {
    super(`garbage collection ${reason}`);
    this.name = 'RunInterrupted';
  }
}

/**
 * A worker's hold on one gc_runs row. Only the holder of an unexpired lease works on a run;
 * a timer renews it while the holder is alive, so a crashed node's run is taken over once its
 * lease lapses. Every status change is a compare-and-set on (status, lease_owner), so a
 * cancel, a takeover or a deleted registry is noticed at the next step.
 */
export class RunLease {
  private timer: ReturnType<typeof setInterval> | undefined;
  private renewing: Promise<void> | undefined;
  private lost = false;
  private cancelRequested = false;
  private lastPoll = 0;

  constructor(
    private readonly db: Db,
    readonly runId: string,
    readonly owner: string,
    private readonly leaseMs: number,
  ) {}

  /** Claims the run if it is active and nobody holds a live lease on it; the row, or undefined. */
  static async claim(db: Db, runId: string, owner: string, leaseMs: number, active: readonly GcStatus[]): Promise<GcRun | undefined> {
    const now = Date.now();
    const result = await db
      .updateTable('gc_runs')
      .set({ lease_owner: owner, lease_expires_at: now + leaseMs })
      .where('id', '=', runId)
      .where('status', 'in', active)
      .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return undefined;
    return db.selectFrom('gc_runs').selectAll().where('id', '=', runId).where('lease_owner', '=', owner).executeTakeFirst();
  }

  startRenewing(): void {
    this.timer = setInterval(() => void this.renew(), Math.max(Math.floor(this.leaseMs / 3), 20));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.renewing;
  }

  private renew(): Promise<void> {
    if (this.renewing || this.lost) return this.renewing ?? Promise.resolve();
    this.renewing = this.db
      .updateTable('gc_runs')
      .set({ lease_expires_at: Date.now() + this.leaseMs })
      .where('id', '=', this.runId)
      .where('lease_owner', '=', this.owner)
      .executeTakeFirst()
      .then((result) => {
        if (Number(result.numUpdatedRows) === 0) this.lost = true;
      })
      // A failed renewal is retried on the next beat; if the database stays away the lease
      // lapses and another node resumes the run, which every step tolerates.
      .catch(() => undefined)
      .finally(() => {
        this.renewing = undefined;
      });
    return this.renewing;
  }

  /** A cancel made in this process reaches the worker at once, without waiting for the next poll. */
  requestCancel(): void {
    this.cancelRequested = true;
  }

  /** Throws `RunInterrupted` when the run was cancelled or taken over; polls at most every 250 ms. */
  async checkpoint(): Promise<void> {
    if (this.lost) throw new RunInterrupted('lease lost');
    if (this.cancelRequested) {
      this.cancelRequested = false;
      await this.check();
    }
    if (Date.now() - this.lastPoll < 250) return;
    this.lastPoll = Date.now();
    await this.check();
  }

  /** The row as it is now, throwing unless this worker still holds it and it is not being cancelled. */
  async check(): Promise<GcRun> {
    const row = await this.db.selectFrom('gc_runs').selectAll().where('id', '=', this.runId).executeTakeFirst();
    if (!row || row.lease_owner !== this.owner) {
      this.lost = true;
      throw new RunInterrupted('lease lost');
    }
    if (row.status === 'cancelling') throw new RunInterrupted('cancelled');
    return row;
  }

  /** Moves the run from one status to the next, unless it was cancelled or taken over meanwhile. */
  async advance(from: GcStatus, to: GcStatus, alsoInTransaction?: (tx: Db) => Promise<void>): Promise<void> {
    const moved = await this.db.transaction().execute(async (tx) => {
      const result = await tx
        .updateTable('gc_runs')
        .set({ status: to, updated_at: Date.now() })
        .where('id', '=', this.runId)
        .where('lease_owner', '=', this.owner)
        .where('status', '=', from)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      await alsoInTransaction?.(tx);
      return true;
    });
    if (moved) return;
    await this.check();
    // Still ours and not cancelling, yet not in `from`: e.g. cancelled while still requested.
    throw new RunInterrupted('lease lost');
  }

  /** Gives the run back without finishing it (it waits for a later tick, on any node). */
  async release(): Promise<void> {
    await this.db.updateTable('gc_runs').set({ lease_owner: null, lease_expires_at: null }).where('id', '=', this.runId).where('lease_owner', '=', this.owner).execute();
  }
}
