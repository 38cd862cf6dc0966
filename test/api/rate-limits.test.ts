/**
 * Per-token rate limits with small configured windows: ratelimit-* headers on every response
 * (200, 204, 404, 401, 429), remaining counting down, the 429 arriving on exactly the request
 * after the limit with an honest retry-after and reset, separate counters per token, and one
 * shared limit for two servers on one database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../harness.js';
import { testDatabaseUrl } from '../support/database.js';
import { expectError, sleep } from './support.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const PER_MINUTE = 5;
const PER_HOUR = 8;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ rateLimitPerMinute: String(PER_MINUTE), rateLimitPerHour: String(PER_HOUR) });
});
afterAll(() => h?.close());

/** ratelimit-remaining of each response, largest first. */
const remainingOf = (responses: Response[]) => responses.map((r) => Number(r.headers.get('ratelimit-remaining'))).sort((x, y) => y - x);

/** The end of the fixed window holding `now`, in ms. */
const windowEnd = (now: number, size: number) => Math.floor(now / size) * size + size;

/** Waits out the end of the current minute when fewer than `ms` remain, so a sequence stays in one window. */
async function roomInMinute(ms = 4_000): Promise<void> {
  const left = windowEnd(Date.now(), MINUTE) - Date.now();
  if (left < ms) await sleep(left + 50);
}

interface Limited {
  res: Response;
  before: number;
  after: number;
}

async function timed(request: () => Promise<Response>): Promise<Limited> {
  const before = Date.now();
  const res = await request();
  const after = Date.now();
  return { res, before, after };
}

/** The three headers, checked for honesty: the hourly limit, what is left, and the hour's end. */
function expectHeaders({ res, before, after }: Limited, remaining: number, limit = PER_HOUR): void {
  const label = `${res.status} ${res.url}`;
  expect(res.headers.get('ratelimit-limit'), label).toBe(String(limit));
  expect(res.headers.get('ratelimit-remaining'), label).toBe(String(remaining));
  const reset = Number(res.headers.get('ratelimit-reset'));
  expect(Number.isInteger(reset), label).toBe(true);
  // The reset is the end of the hour window the request was counted in (Unix seconds).
  expect([Math.ceil(windowEnd(before, HOUR) / 1000), Math.ceil(windowEnd(after, HOUR) / 1000)], label).toContain(reset);
  expect(reset * 1000, label).toBeGreaterThan(after);
  expect(reset, label).toBeLessThanOrEqual(Math.ceil(after / 1000) + 3600);
}

/** retry-after: at least one second and no more than what is left of the window that refused. */
function expectRetryAfter({ res, before, after }: Limited, size: number): number {
  const retry = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retry)).toBe(true);
  expect(retry).toBeGreaterThanOrEqual(1);
  expect(retry).toBeLessThanOrEqual(Math.ceil((windowEnd(before, size) - before) / 1000));
  expect(retry).toBeGreaterThanOrEqual(Math.max(1, Math.floor((windowEnd(after, size) - after) / 1000)));
  return retry;
}

describe('the per-minute limit', () => {
  it('counts down on 200, 204 and 404, then refuses exactly the sixth request with 429, retry-after and honest headers', async () => {
    const token = await h.newTeam('countdown', 'basic');
    await roomInMinute();
    const calls: [() => Promise<Response>, number][] = [
      [() => h.api('/v2/registries', { token }), 200],
      [() => h.api('/v2/registries/validate-name', { method: 'POST', token, body: JSON.stringify({ name: 'free-name' }) }), 204],
      [() => h.api('/v2/registries/no-such-registry', { token }), 404],
      [() => h.api('/v2/no-such-route', { token }), 404],
      [() => h.api('/v2/registries/subscription', { token }), 200],
    ];
    let remaining = PER_HOUR;
    for (const [request, status] of calls) {
      const r = await timed(request);
      expect(r.res.status).toBe(status);
      expectHeaders(r, --remaining);
      expect(r.res.headers.get('retry-after')).toBeNull();
      await r.res.arrayBuffer();
    }
    expect(remaining).toBe(PER_HOUR - PER_MINUTE);

    // The request after the limit, whatever it is, is refused before it does anything.
    const refused = await timed(() => h.api('/v2/registries', { method: 'POST', token, body: JSON.stringify({ name: 'too-many' }) }));
    const error = await expectError(refused.res.clone(), 429, 'too_many_requests', 'registries_create');
    expect(error.message).toBe('API rate limit exceeded.');
    expectHeaders(refused, --remaining);
    expectRetryAfter(refused, MINUTE);
    const again = await timed(() => h.api('/v2/registries', { token }));
    await expectError(again.res.clone(), 429, 'too_many_requests', 'registries_list');
    expectHeaders(again, --remaining);
    expectRetryAfter(again, MINUTE);
    expect((await h.api('/v2/registries/too-many')).status).toBe(404);
  });

  it('a 401 carries the headers too, counted for the token it presented', async () => {
    await roomInMinute();
    const bad = `dop_v1_${'0'.repeat(64)}`;
    for (let i = 1; i <= PER_MINUTE; i++) {
      const r = await timed(() => h.api('/v2/registries', { token: bad }));
      await expectError(r.res.clone(), 401, 'unauthorized', 'registries_list');
      expectHeaders(r, PER_HOUR - i);
    }
    // Guessing tokens is limited like anything else.
    const r = await timed(() => h.api('/v2/registries', { token: bad }));
    await expectError(r.res.clone(), 429, 'too_many_requests', 'registries_list');
    expectRetryAfter(r, MINUTE);
  });

  it('each token has its own counter', async () => {
    await roomInMinute();
    const a = await h.newTeam('token-a', 'basic');
    const b = await h.newTeam('token-b', 'basic');
    for (let i = 0; i < PER_MINUTE; i++) expect((await h.api('/v2/registries', { token: a })).status).toBe(200);
    expect((await h.api('/v2/registries', { token: a })).status).toBe(429);
    const other = await timed(() => h.api('/v2/registries', { token: b }));
    expect(other.res.status).toBe(200);
    expectHeaders(other, PER_HOUR - 1);
    // A second token of the same team counts separately as well: the limit is per token.
    const teamId = (await h.ctx.credentials.authenticate(a))!.teamId;
    const sibling = (await h.ctx.credentials.issue({ teamId, kind: 'api', scopes: ['*'] })).secret;
    const fresh = await timed(() => h.api('/v2/registries', { token: sibling }));
    expect(fresh.res.status).toBe(200);
    expectHeaders(fresh, PER_HOUR - 1);
  });

  it('concurrent requests cannot slip past the limit: exactly five of ten get through', async () => {
    await roomInMinute();
    const token = await h.newTeam('burst', 'basic');
    const responses = await Promise.all(Array.from({ length: 10 }, () => h.api('/v2/registries', { token })));
    const seen = responses.map((r) => `${r.status} remaining ${r.headers.get('ratelimit-remaining')}`).join(', ');
    // The five that pass are the first five in the hour's count too: both windows agree on the order.
    expect(remainingOf(responses.filter((r) => r.status === 200)), seen).toEqual([7, 6, 5, 4, 3]);
    expect(remainingOf(responses.filter((r) => r.status === 429)), seen).toEqual([2, 1, 0, 0, 0]);
    for (const r of responses) await r.arrayBuffer();
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

describe('the per-hour limit', () => {
  it('refuses the request after the hourly limit, with retry-after up to the end of the hour', async () => {
    const hourly = await startHarness({ rateLimitPerMinute: '100', rateLimitPerHour: String(PER_HOUR) });
    try {
      // Stay inside one hour window (fixed windows restart at the full hour).
      const left = windowEnd(Date.now(), HOUR) - Date.now();
      if (left < 5_000) await sleep(left + 50);
      const token = await hourly.newTeam('hourly', 'basic');
      for (let i = 1; i <= PER_HOUR; i++) {
        const r = await timed(() => hourly.api('/v2/registries/options', { token }));
        expect(r.res.status).toBe(200);
        expectHeaders(r, PER_HOUR - i);
        await r.res.arrayBuffer();
      }
      const refused = await timed(() => hourly.api('/v2/registries/options', { token }));
      await expectError(refused.res.clone(), 429, 'too_many_requests', 'registries_get_options');
      expectHeaders(refused, 0);
      const retry = expectRetryAfter(refused, HOUR);
      // It points at the same instant as the reset header.
      expect(Math.abs(Math.ceil(refused.after / 1000) + retry - Number(refused.res.headers.get('ratelimit-reset')))).toBeLessThanOrEqual(1);
    } finally {
      await hourly.close();
    }
  });
});

describe('several servers on one database', () => {
  it('enforce one shared limit per token', async () => {
    const databaseUrl = await testDatabaseUrl();
    const flags = { rateLimitPerMinute: String(PER_MINUTE), rateLimitPerHour: String(PER_HOUR), databaseUrl };
    const one = await startHarness(flags);
    const two = await startHarness(flags);
    try {
      await roomInMinute();
      // Both bootstrap tokens belong to the one default team, valid on either server.
      const token = one.token;
      const servers = [one, two, two, one, two];
      for (let i = 0; i < servers.length; i++) {
        const r = await timed(() => servers[i]!.api('/v2/registries', { token }));
        expect(r.res.status, `request ${i + 1}`).toBe(200);
        expectHeaders(r, PER_HOUR - 1 - i);
        await r.res.arrayBuffer();
      }
      for (const server of [one, two]) {
        const r = await timed(() => server.api('/v2/registries', { token }));
        await expectError(r.res.clone(), 429, 'too_many_requests', 'registries_list');
        expectRetryAfter(r, MINUTE);
      }
      // The other bootstrap token has its own, untouched counter on both.
      const other = await timed(() => one.api('/v2/registries', { token: two.token }));
      expect(other.res.status).toBe(200);
      expectHeaders(other, PER_HOUR - 1);

      // Concurrently across both servers: still exactly the limit.
      await roomInMinute();
      const burst = await one.newTeam('shared-burst', 'basic');
      const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? one : two).api('/v2/registries', { token: burst })));
      const seen = responses.map((r) => `${r.status} remaining ${r.headers.get('ratelimit-remaining')}`).join(', ');
      // The five that pass are the first five in the hour's count too: both windows agree on the order.
      expect(remainingOf(responses.filter((r) => r.status === 200)), seen).toEqual([7, 6, 5, 4, 3]);
      expect(remainingOf(responses.filter((r) => r.status === 429)), seen).toEqual([2, 1, 0, 0, 0]);
      for (const r of responses) await r.arrayBuffer();
    } finally {
      await two.close();
      await one.close();
    }
  });
});
