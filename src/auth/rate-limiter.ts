import { sql } from 'kysely';
import type { Db } from '../db/index.js';

/** What a request learns about its limits: DigitalOcean's three headers and, when refused, `retry-after`. */
export interface RateLimitState {
  /** The hourly limit (`ratelimit-limit`). */
  limit: number;
  /** Requests left in the last hour's allowance (`ratelimit-remaining`). */
  remaining: number;
  /** Unix seconds when the oldest request still counted expires (`ratelimit-reset`). */
  reset: number;
  /** Seconds until this request would be accepted, when it was refused. */
  retryAfter?: number;
}

export interface RateLimits {
  perHour: number;
  perMinute: number;
}

/** Milliseconds since the epoch; injectable so tests move time instead of waiting for it. */
export type Clock = () => number;

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

/** How often a node sweeps out identities idle for an hour (the active ones prune themselves). */
const PRUNE_EVERY_MS = MINUTE_MS;

/**
 * The headers for one decision. `freeAt` (epoch ms) is when a refused request would first be
 * accepted; `oldestExpiry` is when the oldest request of the hour stops counting.
 */
function stateOf(now: number, limits: RateLimits, hourCount: number, oldestExpiry: number, freeAt?: number): RateLimitState {
  const state: RateLimitState = { limit: limits.perHour, remaining: Math.max(0, limits.perHour - hourCount), reset: Math.ceil(oldestExpiry / 1000) };
  if (freeAt !== undefined) state.retryAfter = Math.max(1, Math.ceil((freeAt - now) / 1000));
  return state;
}

/**
 * DigitalOcean's limits, per identity, exactly: every accepted request counts against the
 * hourly and the per-minute limit for one hour (one minute) from the millisecond it was made,
 * and `ratelimit-reset` is when the oldest counted request expires. Refused requests are not
 * counted, so a client that waits `retry-after` gets through.
 *
 * The log lives in the metadata store so every node enforces one limit: a request takes its
 * identity's row in `rate_limit_keys` first (a write, so PostgreSQL row-locks it and SQLite
 * takes its write lock), then counts and records inside that transaction; two concurrent
 * requests can never both take the last slot. Rows stay bounded: each identity's expired
 * hits go in its own next request, idle identities in a sweep once a minute per node, and a
 * log never holds more than `perHour` accepted requests.
 */
export class RateLimiter {
  private lastPrune = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly db: Db,
    private readonly limits: RateLimits,
    private readonly clock: Clock = Date.now,
    private readonly onPruneError: (err: unknown) => void = () => undefined,
  ) {}

  async hit(key: string): Promise<RateLimitState> {
    const now = this.clock();
    const hourCutoff = now - HOUR_MS;
    const minuteCutoff = now - MINUTE_MS;
    const { perHour, perMinute } = this.limits;
    const state = await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('rate_limit_keys')
        .values({ key, seen_at: now })
        .onConflict((oc) => oc.column('key').doUpdateSet({ seen_at: now }))
        .execute();
      await tx.deleteFrom('rate_limit_hits').where('key', '=', key).where('at', '<=', hourCutoff).execute();
      const counts = await tx
        .selectFrom('rate_limit_hits')
        .select([
          sql<number>`coalesce(sum(${sql.ref('count')}), 0)`.as('hour'),
          sql<number>`coalesce(sum(case when ${sql.ref('at')} > ${minuteCutoff} then ${sql.ref('count')} else 0 end), 0)`.as('minute'),
          sql<number | null>`min(${sql.ref('at')})`.as('oldest'),
        ])
        .where('key', '=', key)
        .executeTakeFirstOrThrow();
      const hour = Number(counts.hour);
      const minute = Number(counts.minute);
      const oldest = counts.oldest === null ? now : Number(counts.oldest);
      if (hour < perHour && minute < perMinute) {
        await tx
          .insertInto('rate_limit_hits')
          .values({ key, at: now, count: 1 })
          .onConflict((oc) => oc.columns(['key', 'at']).doUpdateSet((eb) => ({ count: eb('rate_limit_hits.count', '+', 1) })))
          .execute();
        return stateOf(now, this.limits, hour + 1, oldest + HOUR_MS);
      }
      // Refused: room returns when enough of the oldest requests of each spent window expire.
      let freeAt = now;
      if (hour >= perHour) freeAt = Math.max(freeAt, (await nthOldest(tx, key, hourCutoff, hour - perHour + 1)) + HOUR_MS);
      if (minute >= perMinute) freeAt = Math.max(freeAt, (await nthOldest(tx, key, minuteCutoff, minute - perMinute + 1)) + MINUTE_MS);
      return stateOf(now, this.limits, hour, oldest + HOUR_MS, freeAt);
    });
    if (now - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now;
      void this.prune(now).catch(this.onPruneError);
    }
    return state;
  }

  /** Forgets identities idle for an hour, with their (expired) log. */
  async prune(now = this.clock()): Promise<void> {
    const cutoff = now - HOUR_MS;
    await this.db
      .deleteFrom('rate_limit_hits')
      .where('key', 'in', (eb) => eb.selectFrom('rate_limit_keys').select('key').where('seen_at', '<=', cutoff))
      .where('at', '<=', cutoff)
      .execute();
    await this.db.deleteFrom('rate_limit_keys').where('seen_at', '<=', cutoff).execute();
  }
}

/** The time of the n-th oldest request after `cutoff` (n ≥ 1), counting multiplicities. */
async function nthOldest(tx: Db, key: string, cutoff: number, n: number): Promise<number> {
  // Each row holds at least one request, so n rows always reach the n-th.
  const rows = await tx.selectFrom('rate_limit_hits').select(['at', 'count']).where('key', '=', key).where('at', '>', cutoff).orderBy('at').limit(n).execute();
  let seen = 0;
  for (const row of rows) {
    seen += Number(row.count);
    if (seen >= n) return Number(row.at);
  }
  return Number(rows[rows.length - 1]?.at ?? cutoff);
}

/**
 * One sliding window approximated by buckets: a request counts from its bucket until one
 * window after the bucket's end, so it is counted at most one bucket longer than the window
 * (never shorter: the approximation only errs towards refusing).
 */
class BucketWindow {
  private readonly starts: Float64Array;
  private readonly counts: Uint32Array;

  constructor(
    private readonly windowMs: number,
    private readonly bucketMs: number,
  ) {
    // Buckets alive at any instant: the window's worth plus the one being filled.
    const slots = windowMs / bucketMs + 1;
    this.starts = new Float64Array(slots).fill(-1);
    this.counts = new Uint32Array(slots);
  }

  private expiryOf(slot: number): number {
    return (this.starts[slot]! + 1) * this.bucketMs + this.windowMs;
  }

  count(now: number): number {
    let total = 0;
    for (let i = 0; i < this.starts.length; i++) if (this.starts[i]! >= 0 && this.expiryOf(i) > now) total += this.counts[i]!;
    return total;
  }

  add(now: number): void {
    const bucket = Math.floor(now / this.bucketMs);
    const slot = bucket % this.starts.length;
    if (this.starts[slot] !== bucket) {
      this.starts[slot] = bucket;
      this.counts[slot] = 0;
    }
    this.counts[slot]!++;
  }

  /** When the n-th oldest counted request expires (n ≥ 1); `now` when there are fewer. */
  expiryOfNth(now: number, n: number): number {
    const alive = [...this.starts.keys()].filter((i) => this.starts[i]! >= 0 && this.expiryOf(i) > now && this.counts[i]! > 0).sort((a, b) => this.starts[a]! - this.starts[b]!);
    let seen = 0;
    for (const i of alive) {
      seen += this.counts[i]!;
      if (seen >= n) return this.expiryOf(i);
    }
    return now;
  }
}

/**
 * The same limits for callers without an identity (no credentials, or wrong ones), per client
 * address and in this node's memory only: a flood of bad requests writes nothing to the
 * database. Memory is bounded: at most `capacity` addresses, least recently seen forgotten
 * first; IPv6 addresses count per /64, the block one subscriber usually holds.
 *
 * Approximation: buckets of one minute for the hour and one second for the minute, so a
 * request may count up to 60 s longer than an hour (1.7 %) and up to 1 s longer than a minute;
 * `ratelimit-reset` and `retry-after` are late by at most the same, never early.
 */
export class MemoryRateLimiter {
  private readonly entries = new Map<string, { hour: BucketWindow; minute: BucketWindow }>();

  constructor(
    private readonly limits: RateLimits,
    private readonly clock: Clock = Date.now,
    private readonly capacity = 10_000,
  ) {}

  hit(address: string): RateLimitState {
    const now = this.clock();
    const key = addressKey(address);
    let entry = this.entries.get(key);
    if (entry) this.entries.delete(key);
    else entry = { hour: new BucketWindow(HOUR_MS, MINUTE_MS), minute: new BucketWindow(MINUTE_MS, 1000) };
    this.entries.set(key, entry);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);

    const { perHour, perMinute } = this.limits;
    const hour = entry.hour.count(now);
    const minute = entry.minute.count(now);
    if (hour < perHour && minute < perMinute) {
      entry.hour.add(now);
      entry.minute.add(now);
      return stateOf(now, this.limits, hour + 1, entry.hour.expiryOfNth(now, 1));
    }
    let freeAt = now;
    if (hour >= perHour) freeAt = Math.max(freeAt, entry.hour.expiryOfNth(now, hour - perHour + 1));
    if (minute >= perMinute) freeAt = Math.max(freeAt, entry.minute.expiryOfNth(now, minute - perMinute + 1));
    return stateOf(now, this.limits, hour, entry.hour.expiryOfNth(now, 1), freeAt);
  }

  /** Addresses currently remembered (for tests of the memory bound). */
  get size(): number {
    return this.entries.size;
  }
}

/** IPv4 (and IPv4-mapped IPv6) as is; other IPv6 by its first 64 bits. */
function addressKey(address: string): string {
  if (!address.includes(':') || address.startsWith('::ffff:')) return address.replace(/^::ffff:/, '');
  const [head = '', tail] = address.split('::');
  const groups = head ? head.split(':') : [];
  if (tail !== undefined) {
    const rest = tail ? tail.split(':') : [];
    groups.push(...Array<string>(Math.max(0, 8 - groups.length - rest.length)).fill('0'), ...rest);
  }
  return `${groups
    .slice(0, 4)
    .map((g) => (g || '0').toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
