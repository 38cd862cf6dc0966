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
 * every node sharing the database enforces one limit. One upsert per window per request.
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
    const [hourCount, minuteCount] = await Promise.all([this.increment(`h:${key}`, hourStart), this.increment(`m:${key}`, minuteStart)]);
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

  private async increment(key: string, windowStart: number): Promise<number> {
    const row = await this.db
      .insertInto('rate_limits')
      .values({ key, window_start: windowStart, count: 1 })
      .onConflict((oc) => oc.columns(['key', 'window_start']).doUpdateSet((eb) => ({ count: eb('rate_limits.count', '+', 1) })))
      .returning('count')
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  /** Forgets windows that ended more than an hour ago. */
  async prune(now = Date.now()): Promise<void> {
    await this.db.deleteFrom('rate_limits').where('window_start', '<', now - 2 * HOUR).execute();
  }
}
