/**
 * DigitalOcean's rate limits with small configured numbers and a clock the tests move:
 * every request counts for one hour (one minute) from the moment it was made, nothing jumps
 * back to full on the hour, `ratelimit-reset` is when the oldest counted request expires and
 * `retry-after` is exactly when the next request gets through. Limits belong to the identity
 * (the token), whatever the spelling of its Authorization header; requests without a valid
 * token are limited per client address in memory and write nothing to the database. One
 * shared limit for concurrent requests and for two servers on one database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../harness.js';
import { testDatabaseUrl } from '../support/database.js';
import { eventually, expectError } from './support.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const PER_MINUTE = 5;
const PER_HOUR = 8;
const LIMITS = { rateLimitPerMinute: String(PER_MINUTE), rateLimitPerHour: String(PER_HOUR) };

/** A clock the test sets; it starts a minute before a full hour, where fixed windows would reset. */
function testClock(start = Date.UTC(2031, 4, 6, 10, 59, 0)) {
  const clock = { now: start, advance: (ms: number) => (clock.now += ms), read: () => clock.now };
  return clock;
}

let h: Harness;
let clock: ReturnType<typeof testClock>;

beforeAll(async () => {
  clock = testClock();
  h = await startHarness(LIMITS, { clock: clock.read });
});
afterAll(() => h?.close());

interface Seen {
  status: number;
  limit: string | null;
  remaining: number;
  reset: number;
  retryAfter: number | null;
}

async function seen(res: Response): Promise<Seen> {
  await res.arrayBuffer();
  const retry = res.headers.get('retry-after');
  return {
    status: res.status,
    limit: res.headers.get('ratelimit-limit'),
    remaining: Number(res.headers.get('ratelimit-remaining')),
    reset: Number(res.headers.get('ratelimit-reset')),
    retryAfter: retry === null ? null : Number(retry),
  };
}

const at = (ms: number) => Math.ceil(ms / 1000);

async function rowCounts(server: Harness = h): Promise<{ keys: number; hits: number }> {
  const keys = await server.ctx.db.selectFrom('rate_limit_keys').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const hits = await server.ctx.db.selectFrom('rate_limit_hits').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return { keys: Number(keys.n), hits: Number(hits.n) };
}

describe('each request counts for an hour (and a minute) from when it was made', () => {
  it('remaining counts down across the full hour, reset is the oldest request’s expiry, retry-after is exact', async () => {
    const token = await h.newTeam('sliding', 'basic');
    const t0 = clock.now;
    const get = async () => seen(await h.api('/v2/registries', { token }));

    // Five requests in the minute (t0, +15 s, +30 s, +45 s, +50 s), on 200, 204 and 404 alike.
    expect(await get()).toEqual({ status: 200, limit: '8', remaining: 7, reset: at(t0 + HOUR), retryAfter: null });
    clock.advance(15 * SECOND);
    expect(await seen(await h.api('/v2/registries/validate-name', { method: 'POST', token, body: JSON.stringify({ name: 'free-name' }) }))).toMatchObject({ status: 204, remaining: 6, reset: at(t0 + HOUR) });
    clock.advance(15 * SECOND);
    expect(await seen(await h.api('/v2/registries/no-such-registry', { token }))).toMatchObject({ status: 404, remaining: 5, reset: at(t0 + HOUR) });
    clock.advance(15 * SECOND);
    expect(await get()).toMatchObject({ status: 200, remaining: 4, reset: at(t0 + HOUR) });
    clock.advance(5 * SECOND);
    expect(await get()).toMatchObject({ status: 200, remaining: 3, reset: at(t0 + HOUR) });

    // The sixth within a minute of the first is refused, whatever it is, and not counted:
    // retry-after is when the first request leaves the minute.
    clock.advance(5 * SECOND); // t0 + 55 s
    const refused = await h.api('/v2/registries', { method: 'POST', token, body: JSON.stringify({ name: 'too-many' }) });
    const error = await expectError(refused.clone(), 429, 'too_many_requests', 'registries_create');
    expect(error.message).toBe('API rate limit exceeded.');
    expect(await seen(refused)).toEqual({ status: 429, limit: '8', remaining: 3, reset: at(t0 + HOUR), retryAfter: 5 });
    expect((await h.api('/v2/registries/too-many', { token })).status).toBe(429);
    clock.advance(4 * SECOND); // one second short
    expect(await get()).toMatchObject({ status: 429, remaining: 3, retryAfter: 1 });

    // At t0 + 60 s, the first request has left the minute (not the hour): this is the clock
    // hour's turn (11:00), and nothing jumps back to full.
    clock.advance(1 * SECOND);
    expect(new Date(clock.now).getUTCMinutes()).toBe(0);
    expect(await get()).toMatchObject({ status: 200, remaining: 2, reset: at(t0 + HOUR) });
    clock.advance(15 * SECOND);
    expect(await get()).toMatchObject({ status: 200, remaining: 1 });
    clock.advance(15 * SECOND);
    expect(await get()).toMatchObject({ status: 200, remaining: 0 });

    // The hour is spent: retry-after runs to the oldest request's expiry, the same instant as reset.
    clock.advance(15 * SECOND); // t0 + 105 s
    const hourly = await get();
    expect(hourly).toEqual({ status: 429, limit: '8', remaining: 0, reset: at(t0 + HOUR), retryAfter: at(t0 + HOUR - clock.now) });
    expect(at(clock.now) + hourly.retryAfter!).toBe(hourly.reset);

    // One millisecond before the first request's hour is over: still refused. At its expiry one
    // slot returns (only one: the others keep their own timers) and reset moves to the next oldest.
    clock.now = t0 + HOUR - 1;
    expect(await get()).toMatchObject({ status: 429, remaining: 0, retryAfter: 1 });
    clock.now = t0 + HOUR;
    expect(await get()).toEqual({ status: 200, limit: '8', remaining: 0, reset: at(t0 + 15 * SECOND + HOUR), retryAfter: null });
    expect(await get()).toMatchObject({ status: 429, remaining: 0, reset: at(t0 + 15 * SECOND + HOUR), retryAfter: 15 });
  });

  it('a token’s log holds no more than an hour of accepted requests, and idle tokens are swept', async () => {
    const token = await h.newTeam('bounded', 'basic');
    const { tokenId } = (await h.ctx.credentials.authenticate(token))!;
    const logOf = async () =>
      Number(
        (
          await h.ctx.db
            .selectFrom('rate_limit_hits')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('key', '=', `token:${tokenId}`)
            .executeTakeFirstOrThrow()
        ).n,
      );
    // Two hours of requests, one every 10 minutes: never more than an hour's worth is kept.
    for (let i = 0; i < 12; i++) {
      expect((await h.api('/v2/registries', { token })).status).toBe(200);
      expect(await logOf()).toBeLessThanOrEqual(6);
      clock.advance(10 * MINUTE);
    }
    // An hour after its last request, the next sweep (here set off by another token) forgets it.
    clock.advance(HOUR);
    expect((await h.api('/v2/registries', { token: h.token })).status).toBe(200);
    const keyOf = async () => (await h.ctx.db.selectFrom('rate_limit_keys').select('key').where('key', '=', `token:${tokenId}`).executeTakeFirst()) !== undefined;
    expect(await eventually(keyOf, false)).toBe(false);
    expect(await logOf()).toBe(0);
  });
});

describe('limits belong to the token, not to the header’s spelling', () => {
  it('Bearer, bearer, two spaces and a tab all count against one limit', async () => {
    clock.advance(2 * HOUR);
    const token = await h.newTeam('spellings', 'basic');
    const spellings = [`Bearer ${token}`, `bearer ${token}`, `Bearer  ${token}`, `Bearer\t${token}`, `BEARER ${token}`];
    for (const [i, authorization] of spellings.entries()) {
      const res = await seen(await h.api('/v2/registries', { token: null, headers: { authorization } }));
      expect(res, authorization).toMatchObject({ status: 200, remaining: PER_HOUR - 1 - i });
    }
    for (const authorization of spellings) {
      expect((await h.api('/v2/registries', { token: null, headers: { authorization } })).status, authorization).toBe(429);
    }
  });

  it('each token has its own limit, also two tokens of one team', async () => {
    clock.advance(2 * HOUR);
    const a = await h.newTeam('token-a', 'basic');
    const b = await h.newTeam('token-b', 'basic');
    for (let i = 0; i < PER_MINUTE; i++) expect((await h.api('/v2/registries', { token: a })).status).toBe(200);
    expect((await h.api('/v2/registries', { token: a })).status).toBe(429);
    expect(await seen(await h.api('/v2/registries', { token: b }))).toMatchObject({ status: 200, remaining: PER_HOUR - 1 });
    const teamId = (await h.ctx.credentials.authenticate(a))!.teamId;
    const sibling = (await h.ctx.credentials.issue({ teamId, kind: 'api', scopes: ['*'] })).secret;
    expect(await seen(await h.api('/v2/registries', { token: sibling }))).toMatchObject({ status: 200, remaining: PER_HOUR - 1 });
  });

  it('a 403 for a missing scope counts against the token', async () => {
    clock.advance(2 * HOUR);
    const teamId = (await h.ctx.teams.create('scoped', 'basic')).id;
    const reader = (await h.ctx.credentials.issue({ teamId, kind: 'api', scopes: ['registry:read'] })).secret;
    expect(await seen(await h.api('/v2/registries', { method: 'POST', token: reader, body: JSON.stringify({ name: 'nope' }) }))).toMatchObject({ status: 403, remaining: PER_HOUR - 1 });
    expect(await seen(await h.api('/v2/registries', { token: reader }))).toMatchObject({ status: 200, remaining: PER_HOUR - 2 });
  });
});

describe('requests without a valid token', () => {
  it('are limited per address in memory: a flood of bad tokens writes no rows and meets 429', async () => {
    clock.advance(2 * HOUR);
    const before = await rowCounts();
    const bad = (i: number) => `dop_v1_${String(i).padStart(64, '0')}`;
    // In memory, requests are counted in one-minute buckets for the hour: the first one
    // expires an hour after the end of its minute.
    const firstExpires = Math.floor(clock.now / MINUTE) * MINUTE + MINUTE + HOUR;
    for (let i = 0; i < PER_MINUTE; i++) {
      const res = await h.api('/v2/registries', { token: bad(i) });
      await expectError(res.clone(), 401, 'unauthorized', 'registries_list');
      // The headers are there on a 401 too, for the address's allowance.
      expect(await seen(res)).toMatchObject({ limit: String(PER_HOUR), remaining: PER_HOUR - 1 - i, reset: at(firstExpires) });
      clock.advance(SECOND);
    }
    // Every kind of credential-less request shares the address's allowance, and the refusal
    // comes before authentication is even tried.
    for (const init of [{ token: bad(99) }, { token: null }, { token: null, headers: { authorization: 'Basic Zm9vOmJhcg==' } }, { token: 'not-a-token' }]) {
      const res = await h.api('/v2/registries', init);
      await expectError(res.clone(), 429, 'too_many_requests', 'registries_list');
      expect((await seen(res)).retryAfter).toBeGreaterThanOrEqual(1);
    }
    // Unknown paths and the revoke endpoint have no identity either.
    expect((await h.api('/v2/no-such-path', { token: bad(1) })).status).toBe(429);
    expect((await h.api('/v1/oauth/revoke', { method: 'POST', token: null, body: 'token=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(429);
    expect(await rowCounts()).toEqual(before);

    // A valid token from the same address is not caught by the address's limit.
    expect((await h.api('/v2/registries')).status).toBe(200);
    // A minute and a bucket later, the address may try again.
    clock.advance(MINUTE + SECOND);
    expect((await h.api('/v2/registries', { token: bad(7) })).status).toBe(401);
  });

  it('health checks and the OpenAPI description are not limited', async () => {
    for (let i = 0; i < PER_MINUTE + 2; i++) {
      for (const path of ['/healthz', '/readyz', '/livez', '/openapi.json']) {
        const res = await fetch(`${h.apiUrl}${path}`);
        expect(res.status, path).toBe(200);
        expect(res.headers.get('ratelimit-limit')).toBeNull();
        await res.arrayBuffer();
      }
    }
  });
});

/** Ten concurrent requests: exactly five pass, holding the first five places of the hour too. */
async function burst(servers: Harness[], token: string): Promise<void> {
  const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => servers[i % servers.length]!.api('/v2/registries', { token }).then(seen)));
  const summary = responses.map((r) => `${r.status}/${r.remaining}`).join(', ');
  expect(
    responses
      .filter((r) => r.status === 200)
      .map((r) => r.remaining)
      .sort((x, y) => y - x),
    summary,
  ).toEqual([7, 6, 5, 4, 3]);
  const refused = responses.filter((r) => r.status === 429);
  expect(refused, summary).toHaveLength(5);
  // Refused requests were not counted: they all saw some of the five, never more.
  for (const r of refused) {
    expect(r.remaining, summary).toBeGreaterThanOrEqual(3);
    expect(r.retryAfter, summary).toBeGreaterThanOrEqual(1);
  }
}

describe('one limit under concurrency', () => {
  it('concurrent requests of one token cannot slip past it', async () => {
    clock.advance(2 * HOUR);
    await burst([h], await h.newTeam('burst', 'basic'));
  });

  it('two servers on one database share it, in order and under concurrency', async () => {
    const databaseUrl = await testDatabaseUrl();
    const shared = testClock();
    const one = await startHarness({ ...LIMITS, databaseUrl }, { clock: shared.read });
    const two = await startHarness({ ...LIMITS, databaseUrl }, { clock: shared.read });
    try {
      const token = one.token;
      const t0 = shared.now;
      const servers = [one, two, two, one, two];
      for (const [i, server] of servers.entries()) {
        expect(await seen(await server.api('/v2/registries', { token })), `request ${i + 1}`).toMatchObject({ status: 200, remaining: PER_HOUR - 1 - i, reset: at(t0 + HOUR) });
        shared.advance(SECOND);
      }
      for (const server of [one, two]) {
        expect(await seen(await server.api('/v2/registries', { token }))).toMatchObject({ status: 429, remaining: PER_HOUR - PER_MINUTE, retryAfter: at(t0 + MINUTE - shared.now) });
      }
      // The other bootstrap token has its own limit on both.
      expect(await seen(await one.api('/v2/registries', { token: two.token }))).toMatchObject({ status: 200, remaining: PER_HOUR - 1 });

      shared.advance(HOUR);
      await burst([one, two], await one.newTeam('shared-burst', 'basic'));
    } finally {
      await two.close();
      await one.close();
    }
  });
});
