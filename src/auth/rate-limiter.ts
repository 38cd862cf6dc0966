import type { Db } from '../db/index.js';

export interface RateLimitState {
  /** The hourly limit (DigitalOcean's `ratelimit-limit`). */
  limit: number;
  remaining: number;
  /** Unix seconds when the current hour's window ends. */
  reset: number;
  /** Seconds to wait, when this request is over a limit. */
  retryAfter?: number;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

/**
 * Per-token request counters in fixed minute and hour windows, kept in the metadata store so
 * every node sharing the database enforces one limit. One upsert statement per request.
 */
export class RateLimiter {
  private hits = 0;

  constructor(
    private readonly db: Db,
    private readonly perHour: number,
    private readonly perMinute: number,
  ) {}

  async hit(key: string, now = Date.now()): Promise<RateLimitState> {
    const hourStart = Math.floor(now / HOUR) * HOUR;
    const minuteStart = Math.floor(now / MINUTE) * MINUTE;
    const { hourCount, minuteCount } = await this.increment(key, hourStart, minuteStart);
    if (++this.hits % 1000 === 0) void this.prune(now);
    const state: RateLimitState = {
      limit: this.perHour,
      remaining: Math.max(0, this.perHour - hourCount),
      reset: Math.ceil((hourStart + HOUR) / 1000),
    };
    if (hourCount > this.perHour) state.retryAfter = Math.max(1, Math.ceil((hourStart + HOUR - now) / 1000));
    else if (minuteCount > this.perMinute) state.retryAfter = Math.max(1, Math.ceil((minuteStart + MINUTE - now) / 1000));
    return state;
  }

  /**
   * Both counters in one statement, the hour's row first: concurrent requests of a token then
   * queue on that row (PostgreSQL) or the database (SQLite), so they take the same place in
   * both windows. Two separate increments could interleave, and a request within both limits
   * be refused because others overtook it in one window but not the other.
   */
  private async increment(key: string, hourStart: number, minuteStart: number): Promise<{ hourCount: number; minuteCount: number }> {
    const hourKey = `h:${key}`;
    const rows = await this.db
      .insertInto('rate_limits')
      .values([
        { key: hourKey, window_start: hourStart, count: 1 },
        { key: `m:${key}`, window_start: minuteStart, count: 1 },
      ])
      .onConflict((oc) => oc.columns(['key', 'window_start']).doUpdateSet((eb) => ({ count: eb('rate_limits.count', '+', 1) })))
      .returning(['key', 'count'])
      .execute();
    const hour = rows.find((r) => r.key === hourKey);
    const minute = rows.find((r) => r.key !== hourKey);
    if (!hour || !minute) throw new Error('rate limit counters were not returned');
    return { hourCount: Number(hour.count), minuteCount: Number(minute.count) };
  }

  /** Forgets windows that ended more than an hour ago. */
  async prune(now = Date.now()): Promise<void> {
    await this.db.deleteFrom('rate_limits').where('window_start', '<', now - 2 * HOUR).execute();
  }
}
