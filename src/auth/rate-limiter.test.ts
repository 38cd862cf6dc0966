/**
 * The in-memory limiter for callers without an identity: its approximation errs only towards
 * refusing, by at most one bucket (60 s in the hour, 1 s in the minute); IPv6 addresses count
 * per /64; memory holds at most `capacity` addresses.
 */
import { describe, expect, it } from 'vitest';
import { HOUR_MS, MemoryRateLimiter, MINUTE_MS } from './rate-limiter.js';

function limiter(perHour: number, perMinute: number, capacity?: number) {
  const clock = { now: 0 };
  return { clock, limits: new MemoryRateLimiter({ perHour, perMinute }, () => clock.now, capacity) };
}

describe('MemoryRateLimiter', () => {
  it('counts a request for the hour after its minute bucket ends: never less than an hour, at most 60 s more', () => {
    const { clock, limits } = limiter(2, 100);
    clock.now = 10 * MINUTE_MS + 30_000; // the middle of a minute bucket
    expect(limits.hit('192.0.2.1').retryAfter).toBeUndefined();
    expect(limits.hit('192.0.2.1')).toMatchObject({ remaining: 0, reset: (11 * MINUTE_MS + HOUR_MS) / 1000 });
    const refused = limits.hit('192.0.2.1');
    expect(refused.retryAfter).toBe((11 * MINUTE_MS + HOUR_MS - clock.now) / 1000);
    // A full hour after the requests: still counted (the error is on the refusing side) …
    clock.now += HOUR_MS;
    expect(limits.hit('192.0.2.1').retryAfter).toBe(30);
    // … until the bucket's end plus an hour, 30 s later here, 60 s at most.
    clock.now = 11 * MINUTE_MS + HOUR_MS;
    expect(limits.hit('192.0.2.1').retryAfter).toBeUndefined();
  });

  it('the per-minute limit is sliding too, within a second', () => {
    const { clock, limits } = limiter(1000, 3);
    for (const t of [0, 20_000, 40_500]) {
      clock.now = t;
      expect(limits.hit('192.0.2.2').retryAfter).toBeUndefined();
    }
    clock.now = 59_000;
    expect(limits.hit('192.0.2.2').retryAfter).toBe(2);
    clock.now = 61_000;
    expect(limits.hit('192.0.2.2').retryAfter).toBeUndefined();
    expect(limits.hit('192.0.2.2').retryAfter).toBe(20);
  });

  it('IPv6 addresses of one /64 share a limit; other /64s and IPv4 addresses do not', () => {
    const { limits } = limiter(100, 2);
    limits.hit('2001:db8:1:2::1');
    limits.hit('2001:0db8:0001:0002:ffff:ffff:ffff:ffff');
    expect(limits.hit('2001:db8:1:2:abcd::').retryAfter).toBeDefined();
    expect(limits.hit('2001:db8:1:3::1').retryAfter).toBeUndefined();
    expect(limits.hit('::ffff:192.0.2.9').retryAfter).toBeUndefined();
    expect(limits.hit('192.0.2.9').retryAfter).toBeUndefined();
    expect(limits.hit('192.0.2.9').retryAfter).toBeDefined();
  });

  it('remembers at most `capacity` addresses, forgetting the least recently seen', () => {
    const { limits } = limiter(100, 1, 3);
    for (const a of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) limits.hit(a);
    expect(limits.hit('10.0.0.1').retryAfter).toBeDefined(); // seen again: now the most recent
    limits.hit('10.0.0.4');
    expect(limits.size).toBe(3);
    expect(limits.hit('10.0.0.1').retryAfter).toBeDefined();
    expect(limits.hit('10.0.0.2').retryAfter).toBeUndefined(); // it had been forgotten
    for (let i = 0; i < 1000; i++) limits.hit(`10.1.${i >> 8}.${i & 255}`);
    expect(limits.size).toBe(3);
  });
});
