/**
 * What every fuzz property checks, and the world it runs in: a harness with fixtures on both
 * listeners, a fingerprint of everything stored (rows and blob files) so a refused request
 * can be shown to have changed nothing, and the two error shapes.
 */
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { expect } from 'vitest';
import { testDialect } from '../support/database.js';
import type { Harness } from '../harness.js';

/**
 * Inputs per property: about 3,550 per Vitest project over both listeners, so each CI run
 * (three projects) tries more than 10,000. `BERTH_FUZZ_SCALE=10` runs ten times as many.
 */
export function runs(base: number): number {
  const scale = Number(process.env.BERTH_FUZZ_SCALE ?? '1');
  return Math.max(1, Math.round(base * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

/** fast-check options: a seed from the environment reproduces a failure printed earlier. */
export function fcOptions(numRuns: number): { numRuns: number; seed?: number; endOnFailure: boolean } {
  const seed = process.env.BERTH_FUZZ_SEED;
  return { numRuns, endOnFailure: true, ...(seed ? { seed: Number(seed) } : {}) };
}

/** Every object key under `prefix` in the server's blob store, whatever the driver. */
async function storedKeys(h: Harness, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of h.ctx.driver.list(prefix)) keys.push(o.key);
  return keys.sort();
}

/**
 * A digest of what a client could ever observe as stored: the identity of every row that
 * names content (not clocks, counters or usage figures, which move on their own) and the
 * set of stored blob objects; and apart, the upload sessions with the bytes each holds.
 */
export interface Fingerprint {
  /** Everything but upload sessions: a digest of each part, by name. */
  stored: Record<string, string>;
  /** Open upload sessions and how many bytes each holds. */
  sessions: Map<string, number>;
}

export async function fingerprint(h: Harness): Promise<Fingerprint> {
  const db = h.ctx.db;
  const names = ['registries', 'repositories holding content', 'manifests', 'manifest references', 'tags', 'blobs', 'repository blobs', 'teams', 'tokens', 'gc runs', 'blob objects'];
  const parts = await Promise.all([
    db.selectFrom('registries').select(['name', 'team_id', 'region', 'read_only']).orderBy('name').execute(),
    // A push creates its repository's row before it is judged; an empty one is invisible to
    // every client (catalog and API list only repositories holding content), counts against
    // no allowance and is removed by upload expiry, so it is not state a client could observe.
    // Upload sessions are compared apart (a refused request may end one), so a repository
    // whose only content was the session it ended is no change either.
    db
      .selectFrom('repositories as r')
      .select(['r.registry_id', 'r.name'])
      .where((eb) =>
        eb.or([
          eb.exists(eb.selectFrom('manifests as m').select('m.id').whereRef('m.repository_id', '=', 'r.id')),
          eb.exists(eb.selectFrom('repository_blobs as rb').select('rb.digest').whereRef('rb.repository_id', '=', 'r.id')),
        ]),
      )
      .orderBy('r.registry_id')
      .orderBy('r.name')
      .execute(),
    db.selectFrom('manifests').select(['repository_id', 'digest', 'media_type', 'subject_digest']).orderBy('repository_id').orderBy('digest').execute(),
    db.selectFrom('manifest_refs').select(['manifest_id', 'position', 'digest']).orderBy('manifest_id').orderBy('position').execute(),
    db.selectFrom('tags').select(['repository_id', 'name', 'manifest_id']).orderBy('repository_id').orderBy('name').execute(),
    db.selectFrom('blobs').select(['digest', 'size']).orderBy('digest').execute(),
    db.selectFrom('repository_blobs').select(['repository_id', 'digest']).orderBy('repository_id').orderBy('digest').execute(),

    db.selectFrom('teams').select(['name', 'tier']).orderBy('name').execute(),
    db.selectFrom('tokens').select(['id', 'revoked_at']).orderBy('id').execute(),
    db.selectFrom('gc_runs').select(['id', 'status']).orderBy('id').execute(),
    storedKeys(h, 'blobs'),
  ]);
  const sessions = await db.selectFrom('uploads').select(['id', 'received_bytes']).execute();
  if (parts.length !== names.length) throw new Error('fingerprint: a part without a name');
  const stored = Object.fromEntries(parts.map((part, i) => [names[i]!, createHash('sha256').update(JSON.stringify(part)).digest('hex')]));
  return { stored, sessions: new Map(sessions.map((s) => [s.id, s.received_bytes])) };
}

/**
 * A refused request stores nothing and changes nothing stored. It may end an upload session,
 * as Distribution cancels an upload whose completion failed its digest check; a session it
 * leaves must hold what it held.
 */
export function expectUnchanged(before: Fingerprint, after: Fingerprint, what: string): void {
  const changed = Object.keys(before.stored).filter((name) => after.stored[name] !== before.stored[name]);
  expect(changed, `${what}\nchanged: ${changed.join(', ')}`).toEqual([]);
  for (const [id, received] of after.sessions) {
    expect(before.sessions.has(id), `${what}\na session appeared: ${id}`).toBe(true);
    expect(received, `${what}\nsession ${id} changed`).toBe(before.sessions.get(id));
  }
}

/** What a response looked like, for assertion messages that let a person replay it. */
export interface Exchange {
  request: string;
  status: number;
  body: string;
  headers: Headers;
}

export function describeExchange(x: Exchange): string {
  return `${x.request}\n→ ${x.status} ${x.body.slice(0, 600)}`;
}

/** The registry listener's errors: OCI `{errors:[{code, message, detail?}]}`. */
export function expectOciError(x: Exchange): void {
  let body: unknown;
  try {
    body = JSON.parse(x.body);
  } catch {
    throw new Error(`not JSON:\n${describeExchange(x)}`);
  }
  const errors = (body as { errors?: unknown }).errors;
  expect(Array.isArray(errors) && errors.length > 0, describeExchange(x)).toBe(true);
  for (const e of errors as Record<string, unknown>[]) {
    expect(typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code), describeExchange(x)).toBe(true);
    expect(typeof e.message === 'string' && e.message.length > 0 && e.message.length <= 2048, describeExchange(x)).toBe(true);
  }
}

/** The API listener's errors: DigitalOcean `{id, message, request_id}`, the id also in X-Request-Id. */
export function expectDoError(x: Exchange): void {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(x.body) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON:\n${describeExchange(x)}`);
  }
  expect(typeof body.id === 'string' && /^[a-z_]+$/.test(body.id), describeExchange(x)).toBe(true);
  expect(typeof body.message === 'string' && body.message.length > 0 && body.message.length <= 2048, describeExchange(x)).toBe(true);
  expect(body.request_id, describeExchange(x)).toBe(x.headers.get('x-request-id'));
}

/** Never a 5xx for anything a client can send; 503 only where the server says it is unavailable. */
export function expectNoServerError(x: Exchange): void {
  expect(x.status < 500, describeExchange(x)).toBe(true);
}

export const DIALECT = testDialect();

/** Percent-encodes only what an HTTP client cannot put on the request line at all. */
export function wirePath(path: string): string {
  return path.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

/** Header values as a client can send them: no control characters, nothing beyond Latin-1. */
export function wireHeaders(headers: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = v.replace(/[^\t\x20-\x7e\x80-\xff]/gu, '?');
  return out;
}

/**
 * One request over node:http with the path exactly as given (fetch would normalise `..`,
 * escapes and case, which is not what a hostile client does).
 */
export function send(base: string, method: string, path: string, rawHeaders: Record<string, string | undefined> = {}, body?: Buffer): Promise<Exchange> {
  const url = new URL(base);
  const headers = wireHeaders(rawHeaders);
  const request = `${method} ${wirePath(path)} ${JSON.stringify(headers)}${body ? ` body=${JSON.stringify(body.subarray(0, 300).toString('utf8'))}${body.length > 300 ? `…(${body.length} bytes)` : ''}` : ''}`;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method, path: wirePath(path), headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
          resolve({ request, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: h });
        });
        res.on('error', reject);
      },
    );
    req.on('error', (err) => reject(new Error(`${request}: ${err.message}`)));
    req.end(body);
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });
