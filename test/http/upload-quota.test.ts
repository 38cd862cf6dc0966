/**
 * Uploads against a team's storage allowance (a starter tier of 1 MiB here): bytes in flight
 * count as they stream, so a chunk that would cross the allowance is cut off with 403 DENIED
 * and the session stays where it was; sessions that hold bytes count for every other upload;
 * a team's open sessions are capped; and two first pushes into two new repositories cannot
 * both pass a one-repository allowance — each under real concurrency.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadKey } from '../../src/storage/index.js';
import { digestOf, pushBlob, pushImage, startHarness, type Harness } from '../harness.js';

const KiB = 1024;
const ALLOWANCE = 1024 * KiB;
const MAX_SESSIONS = 4;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    tiers: JSON.stringify({ starter: { included_storage_bytes: ALLOWANCE }, professional: { included_storage_bytes: ALLOWANCE, allow_storage_overage: false } }),
    maxUploadSessions: String(MAX_SESSIONS),
    rateLimitPerMinute: '100000',
    rateLimitPerHour: '1000000',
  });
});
afterAll(() => h?.close());

interface Team {
  token: string;
  teamId: string;
  jwt: string;
}

/** A team (starter by default) with registry `name` and a JWT for its repositories `app`, `a` and `b`. */
async function starterTeam(name: string, tier: 'starter' | 'professional' = 'starter'): Promise<Team> {
  const token = await h.newTeam(name, tier);
  const teamId = (await h.ctx.credentials.authenticate(token))!.teamId;
  const res = await h.api('/v2/registries', { method: 'POST', token, body: JSON.stringify({ name, subscription_tier_slug: tier }) });
  if (res.status !== 201) throw new Error(`creating ${name}: ${res.status} ${await res.text()}`);
  const jwt = await h.jwt(token, ...['app', 'a', 'b'].map((r) => `repository:${name}/${r}:pull,push,delete`));
  return { token, teamId, jwt };
}

async function denied(res: Response, code: string, pattern: RegExp): Promise<string> {
  const text = await res.text();
  expect(res.status, text).toBe(code === 'TOOMANYREQUESTS' ? 429 : 403);
  const body = JSON.parse(text) as { errors: { code: string; message: string }[] };
  expect(body.errors[0]!.code).toBe(code);
  expect(body.errors[0]!.message).toMatch(pattern);
  return body.errors[0]!.message;
}

/** An upload session; `location` follows what the registry last answered. */
interface Session {
  location: string;
}

async function startSession(t: Team, name: string, repo = 'app'): Promise<Session> {
  const res = await h.registry(`/v2/${name}/${repo}/blobs/uploads/`, { method: 'POST', auth: t.jwt });
  expect(res.status, await res.clone().text()).toBe(202);
  return { location: res.headers.get('location')! };
}

async function patch(t: Team, session: Session, body: Buffer | AsyncIterable<Uint8Array>): Promise<Response> {
  // An async iterable goes out chunked, without Content-Length.
  const res = await h.registry(session.location, {
    method: 'PATCH',
    auth: t.jwt,
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.isBuffer(body) ? body : (ReadableStream.from(body) as unknown as RequestInit['body']),
  });
  if (res.status === 202) session.location = res.headers.get('location')!;
  return res;
}

async function* chunks(total: number, size = 64 * KiB): AsyncIterable<Uint8Array> {
  for (let sent = 0; sent < total; sent += size) yield randomBytes(Math.min(size, total - sent));
}

/** Bytes the session has, by its status, and bytes its file holds. */
async function sessionState(t: Team, session: Session): Promise<{ received: number; stored: number | undefined }> {
  const res = await h.registry(session.location, { auth: t.jwt });
  expect(res.status).toBe(204);
  const range = res.headers.get('range')!;
  const id = res.headers.get('docker-upload-uuid')!;
  return { received: Number(range.split('-')[1]) + (range === '0-0' ? 0 : 1), stored: await storedBytes(id) };
}

/**
 * What storage holds for a session: its file on disk; or, where sessions are portable (S3),
 * the parts its recorded state lists plus the tail objects that actually exist.
 */
async function storedBytes(id: string): Promise<number | undefined> {
  if (!h.ctx.driver.sessions.portable) return (await h.ctx.driver.stat(uploadKey(id)))?.size;
  const row = await h.ctx.db.selectFrom('uploads').select('driver_state').where('id', '=', id).executeTakeFirst();
  if (!row?.driver_state) return undefined;
  const state = JSON.parse(row.driver_state) as { parts?: { size: number }[]; tail?: { key: string }[] };
  let total = (state.parts ?? []).reduce((sum, p) => sum + p.size, 0);
  for (const t of state.tail ?? []) total += (await h.ctx.driver.stat(t.key))?.size ?? 0;
  return total;
}

async function uploadsHeldBy(teamId: string): Promise<number> {
  const row = await h.ctx.db
    .selectFrom('uploads as u')
    .innerJoin('repositories as r', 'r.id', 'u.repository_id')
    .innerJoin('registries as g', 'g.id', 'r.registry_id')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('u.received_bytes'), eb.val(0)).as('n'))
    .where('g.team_id', '=', teamId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('bytes in flight count against the allowance', () => {
  it('a chunk without Content-Length is cut off where it would cross the allowance; the session stays consistent', async () => {
    const t = await starterTeam('stream-cut');
    const location = await startSession(t, 'stream-cut');
    const first = randomBytes(300 * KiB);
    expect((await patch(t, location, first)).status).toBe(202);

    const message = await denied(await patch(t, location, chunks(ALLOWANCE)), 'DENIED', /storage limit reached: the Starter tier includes 1048576 bytes/);
    expect(message).toContain(`this upload already holds ${first.length} bytes`);
    // Nothing of the refused chunk was kept: status, file and row agree on the first chunk.
    expect(await sessionState(t, location)).toEqual({ received: first.length, stored: first.length });
    expect(await uploadsHeldBy(t.teamId)).toBe(first.length);

    // The session goes on where it was, up to exactly the allowance, and completes.
    const rest = randomBytes(ALLOWANCE - first.length);
    const next = await patch(t, location, chunks(rest.length));
    expect(next.status).toBe(202);
    await next.arrayBuffer();
    expect((await sessionState(t, location)).received).toBe(ALLOWANCE);
    expect((await patch(t, location, Buffer.alloc(1))).status).toBe(403);
    expect(await sessionState(t, location)).toEqual({ received: ALLOWANCE, stored: ALLOWANCE });
  });

  it('a chunk with Content-Length beyond the room is refused before it is stored', async () => {
    const t = await starterTeam('declared');
    const location = await startSession(t, 'declared');
    await denied(await patch(t, location, randomBytes(ALLOWANCE + 1)), 'DENIED', /needs at least 1048577 more/);
    expect(await sessionState(t, location)).toEqual({ received: 0, stored: 0 });
    // The 262 MB hole: many PATCHes of one session never add up past the allowance either.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await patch(t, location, randomBytes(256 * KiB))).status);
    expect(statuses).toEqual([202, 202, 202, 202, 403, 403]);
    expect(await sessionState(t, location)).toEqual({ received: ALLOWANCE, stored: ALLOWANCE });
  });

  it('bytes another session holds leave less room; cancelling it gives the room back', async () => {
    const t = await starterTeam('held');
    const holder = await startSession(t, 'held');
    expect((await patch(t, holder, randomBytes(700 * KiB))).status).toBe(202);

    const other = await startSession(t, 'held');
    const message = await denied(await patch(t, other, randomBytes(400 * KiB)), 'DENIED', /are held by 1 other upload in progress/);
    expect(message).toContain(String(700 * KiB));
    const blob = randomBytes(400 * KiB);
    await denied(await h.registry(`/v2/held/app/blobs/uploads/?digest=${digestOf(blob)}`, { method: 'POST', auth: t.jwt, body: blob }), 'DENIED', /storage limit/);
    // A small image still fits in what is left; then that is spent too.
    await pushImage(h, t.jwt, 'held/app', 'v1');
    expect((await patch(t, other, randomBytes(330 * KiB))).status).toBe(403);

    expect((await h.registry(holder.location, { method: 'DELETE', auth: t.jwt })).status).toBe(204);
    expect((await patch(t, other, randomBytes(400 * KiB))).status).toBe(202);
  });

  it('concurrent streams cannot together claim more than the room', async () => {
    const t = await starterTeam('concurrent-streams');
    const sessions = await Promise.all(Array.from({ length: 4 }, () => startSession(t, 'concurrent-streams')));
    // Four unknown-length chunks of 400 KiB against 1 MiB: at most two fit, whatever the interleaving.
    const results = await Promise.all(sessions.map((s) => patch(t, s, chunks(400 * KiB, 16 * KiB)).then(async (r) => ({ status: r.status, text: await r.text() }))));
    const accepted = results.filter((r) => r.status === 202).length;
    expect(accepted, JSON.stringify(results)).toBeGreaterThanOrEqual(1);
    expect(accepted).toBeLessThanOrEqual(2);
    for (const r of results) if (r.status !== 202) expect(r.text).toMatch(/storage limit reached/);
    expect(await uploadsHeldBy(t.teamId)).toBe(accepted * 400 * KiB);
    expect(await uploadsHeldBy(t.teamId)).toBeLessThanOrEqual(ALLOWANCE);
    // Every session is whole: what its row says is what its file holds.
    for (const s of sessions) {
      const state = await sessionState(t, s);
      expect(state.stored ?? 0).toBe(state.received);
    }
  });

  it('a monolithic push of bytes the registry already holds costs nothing, even at the allowance', async () => {
    const t = await starterTeam('full-house');
    const bytes = randomBytes(ALLOWANCE);
    await pushBlob(h, t.jwt, 'full-house/app', bytes);
    await pushBlob(h, t.jwt, 'full-house/app', bytes);
    // A lie about the digest gets no more than the held blob's size for free.
    const liar = await h.registry(`/v2/full-house/app/blobs/uploads/?digest=${digestOf(bytes)}`, { method: 'POST', auth: t.jwt, body: Buffer.concat([bytes, Buffer.alloc(1)]) });
    await denied(liar, 'DENIED', /storage limit/);
    expect(await uploadsHeldBy(t.teamId)).toBe(0);
  });
});

describe('a team’s open upload sessions are capped', () => {
  it(`the ${MAX_SESSIONS + 1}th open session is refused with 429 across the team’s registries; finishing one makes room`, async () => {
    const t = await starterTeam('sessions-one', 'professional');
    const second = await h.api('/v2/registries', { method: 'POST', token: t.token, body: JSON.stringify({ name: 'sessions-two' }) });
    expect(second.status).toBe(201);
    const jwt = await h.jwt(t.token, 'repository:sessions-one/app:pull,push', 'repository:sessions-two/app:pull,push');
    const open: Session[] = [];
    for (let i = 0; i < MAX_SESSIONS; i++) open.push(await startSession({ ...t, jwt }, i % 2 === 0 ? 'sessions-one' : 'sessions-two'));
    await denied(await h.registry('/v2/sessions-two/app/blobs/uploads/', { method: 'POST', auth: jwt }), 'TOOMANYREQUESTS', /4 upload sessions open/);
    const bytes = randomBytes(10);
    await denied(await h.registry(`/v2/sessions-one/app/blobs/uploads/?digest=${digestOf(bytes)}`, { method: 'POST', auth: jwt, body: bytes }), 'TOOMANYREQUESTS', /upload sessions open/);

    const done = await h.registry(`${open[0]!.location}&digest=${digestOf(Buffer.alloc(0))}`, { method: 'PUT', auth: jwt });
    expect(done.status).toBe(201);
    expect(await pushBlob(h, jwt, 'sessions-one/app', bytes)).toBe(digestOf(bytes));
    expect((await h.registry('/v2/sessions-two/app/blobs/uploads/', { method: 'POST', auth: jwt })).status).toBe(202);
  });

  it('concurrent starts cannot pass the cap together', async () => {
    const t = await starterTeam('sessions-race', 'professional');
    const results = await Promise.all(Array.from({ length: 10 }, () => h.registry('/v2/sessions-race/app/blobs/uploads/', { method: 'POST', auth: t.jwt })));
    expect(results.map((r) => r.status).sort()).toEqual([...Array<number>(MAX_SESSIONS).fill(202), ...Array<number>(10 - MAX_SESSIONS).fill(429)]);
    const rows = await h.ctx.db.selectFrom('uploads').select('id').where('repository_id', '=', (await h.ctx.repositories.find((await h.ctx.registries.byName('sessions-race'))!.id, 'app'))!.id).execute();
    expect(rows).toHaveLength(MAX_SESSIONS);
  });
});

describe('the repository allowance under concurrency', () => {
  const repositories = ['a', 'b', 'c', 'd'];
  for (const flow of ['chunked', 'monolithic', 'whole image'] as const) {
    it(`simultaneous first pushes (${flow}) into new repositories on a one-repository tier: exactly one passes`, async () => {
      for (let round = 0; round < 3; round++) {
        const name = `repo-race-${flow.replace(' ', '-')}-${round}`;
        const token = await h.newTeam(name, 'starter');
        const res = await h.api('/v2/registries', { method: 'POST', token, body: JSON.stringify({ name, subscription_tier_slug: 'starter' }) });
        expect(res.status).toBe(201);
        const t: Team = { token, teamId: (await h.ctx.credentials.authenticate(token))!.teamId, jwt: await h.jwt(token, ...repositories.map((r) => `repository:${name}/${r}:pull,push`)) };
        const push = async (repo: string): Promise<number> => {
          if (flow === 'chunked') return (await h.registry(`/v2/${name}/${repo}/blobs/uploads/`, { method: 'POST', auth: t.jwt })).status;
          if (flow === 'monolithic') {
            const bytes = randomBytes(100);
            return (await h.registry(`/v2/${name}/${repo}/blobs/uploads/?digest=${digestOf(bytes)}`, { method: 'POST', auth: t.jwt, body: bytes })).status;
          }
          return pushImage(h, t.jwt, `${name}/${repo}`, 'v1').then(
            () => 201,
            (err: Error) => Number(/pushing \w+: (\d+)/.exec(err.message)?.[1] ?? 0),
          );
        };
        const statuses = await Promise.all(repositories.map(push));
        expect(statuses.filter((s) => s === 202 || s === 201), `round ${round}: ${statuses.join(', ')}`).toHaveLength(1);
        expect(statuses.filter((s) => s === 403)).toHaveLength(repositories.length - 1);
        expect(await h.ctx.usage.teamRepositories(t.teamId)).toBe(1);
      }
    });
  }
});
