/**
 * What a registry JWT is worth. Tokens signed with the instance's own key but not as this
 * configuration issues them (too long a lifetime, iat in the future, nbf out of place, no iat)
 * are refused. A token stops working, on every node sharing the database, within
 * CREDENTIAL_RECHECK_MS of its credential being revoked (POST /v1/oauth/revoke), deleted or
 * expired — proved with two servers on one database and a clock the test moves.
 */
import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREDENTIAL_RECHECK_MS } from '../../src/auth/index.js';
import { pushImage, REGISTRY_HOST, startHarness, type Harness } from '../harness.js';
import { testDatabaseUrl } from '../support/database.js';

const TOKEN_TTL = 600;
const WRITE_TTL = 120;

/** Starts at the real time: tokens are signed and checked against the same instant. */
function testClock() {
  const clock = { now: Date.now(), advance: (ms: number) => (clock.now += ms), read: () => clock.now };
  return clock;
}

/** GET the tag list with a JWT: 200 while the token is good, 401 once it is not. */
async function tagsWith(server: Harness, jwt: string, repository = 'trust/app'): Promise<number> {
  const res = await server.registry(`/v2/${repository}/tags/list`, { auth: jwt });
  await res.arrayBuffer();
  return res.status;
}

describe('JWTs this configuration would not issue', () => {
  let h: Harness;
  let clock: ReturnType<typeof testClock>;
  let forge: (claims: Record<string, unknown>) => Promise<string>;
  let credentialId: string;
  let teamId: string;

  beforeAll(async () => {
    clock = testClock();
    h = await startHarness({ tokenTtl: `${TOKEN_TTL}s`, writeTokenTtl: `${WRITE_TTL}s` }, { clock: clock.read });
    await h.createRegistry('trust');
    await pushImage(h, await h.jwt(h.token, 'repository:trust/app:pull,push'), 'trust/app', 'v1');
    const principal = (await h.ctx.credentials.authenticate(h.token))!;
    credentialId = principal.tokenId;
    teamId = principal.teamId;
    const key = await h.ctx.db.selectFrom('signing_keys').selectAll().executeTakeFirstOrThrow();
    const privateKey = await importJWK(JSON.parse(key.private_jwk) as JWK, key.algorithm);
    // Signs exactly as the token service does, with the instance's own key, except for `claims`.
    forge = async (claims) => {
      const now = Math.floor(clock.now / 1000);
      const payload: Record<string, unknown> = {
        iss: 'berth',
        aud: REGISTRY_HOST,
        sub: credentialId,
        team: teamId,
        reg: null,
        access: [{ type: 'repository', name: 'trust/app', actions: ['pull'] }],
        denied: [],
        iat: now,
        nbf: now - 5,
        exp: now + 60,
        jti: randomUUID(),
        ...claims,
      };
      for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
      return new SignJWT(payload).setProtectedHeader({ alg: key.algorithm, kid: key.kid, typ: 'JWT' }).sign(privateKey);
    };
  });
  afterAll(() => h?.close());

  it('a forged token shaped like ours is accepted (the control), and so is a real one', async () => {
    expect(await tagsWith(h, await forge({}))).toBe(200);
    expect(await tagsWith(h, await forge({ exp: Math.floor(clock.now / 1000) + TOKEN_TTL }))).toBe(200);
    expect(await tagsWith(h, await h.jwt(h.token, 'repository:trust/app:pull'))).toBe(200);
  });

  it('refuses lifetimes beyond the configured maximum, a year or just one second more', async () => {
    const now = Math.floor(clock.now / 1000);
    expect(await tagsWith(h, await forge({ exp: now + 365 * 24 * 3600 }))).toBe(401);
    expect(await tagsWith(h, await forge({ exp: now + TOKEN_TTL + 1 }))).toBe(401);
    // An old iat does not help: the lifetime is exp - iat.
    expect(await tagsWith(h, await forge({ iat: now - 3600, nbf: now - 3605, exp: now + 60 }))).toBe(401);
  });

  it('write-scoped tokens are held to the shorter write lifetime', async () => {
    const now = Math.floor(clock.now / 1000);
    const access = [{ type: 'repository', name: 'trust/app', actions: ['pull', 'push'] }];
    expect(await tagsWith(h, await forge({ access, exp: now + WRITE_TTL }))).toBe(200);
    expect(await tagsWith(h, await forge({ access, exp: now + WRITE_TTL + 1 }))).toBe(401);
    expect(await tagsWith(h, await forge({ access: [{ type: 'repository', name: 'trust/app', actions: ['*'] }], exp: now + WRITE_TTL + 1 }))).toBe(401);
  });

  it('refuses tokens without iat or sub, issued in the future, or with nbf out of place', async () => {
    const now = Math.floor(clock.now / 1000);
    expect(await tagsWith(h, await forge({ iat: undefined }))).toBe(401);
    expect(await tagsWith(h, await forge({ sub: undefined }))).toBe(401);
    expect(await tagsWith(h, await forge({ iat: now + 3600, nbf: now - 5, exp: now + 3660 }))).toBe(401);
    expect(await tagsWith(h, await forge({ nbf: now + 30 }))).toBe(401);
    expect(await tagsWith(h, await forge({ nbf: now - 3600 }))).toBe(401);
  });

  it('refuses a token for a credential that never existed', async () => {
    expect(await tagsWith(h, await forge({ sub: randomUUID() }))).toBe(401);
  });
});

describe('revocation reaches every node within the recheck interval', () => {
  let one: Harness;
  let two: Harness;
  let clock: ReturnType<typeof testClock>;

  beforeAll(async () => {
    clock = testClock();
    const databaseUrl = await testDatabaseUrl();
    one = await startHarness({ databaseUrl }, { clock: clock.read });
    two = await startHarness({ databaseUrl }, { clock: clock.read });
    await one.createRegistry('trust');
    await pushImage(one, await one.jwt(one.token, 'repository:trust/app:pull,push'), 'trust/app', 'v1');
  });
  afterAll(async () => {
    await two?.close();
    await one?.close();
  });

  /** A fresh docker credential, a JWT for it from server one, known good on both servers. */
  async function credentialInUse(): Promise<{ password: string; jwt: string }> {
    const password = await one.dockerPassword('trust');
    const jwt = await one.jwt(password, 'repository:trust/app:pull');
    expect(await tagsWith(one, jwt)).toBe(200);
    expect(await tagsWith(two, jwt)).toBe(200);
    return { password, jwt };
  }

  async function idOf(password: string): Promise<string> {
    return (await one.ctx.credentials.authenticate(password))!.tokenId;
  }

  it('POST /v1/oauth/revoke: at once on the node that revoked, within the interval on the other', async () => {
    const { password, jwt } = await credentialInUse();
    const revoked = await fetch(`${one.apiUrl}/v1/oauth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${password}` });
    expect(revoked.status).toBe(200);
    expect(await tagsWith(one, jwt)).toBe(401);
    clock.advance(CREDENTIAL_RECHECK_MS);
    expect(await tagsWith(two, jwt)).toBe(401);
    // New tokens are refused everywhere at once: exchanging a credential reads the database.
    expect((await two.registry('/auth/token?service=registry.test&scope=repository:trust/app:pull', { auth: { basic: password } })).status).toBe(401);
  });

  it('a deleted credential: within the interval on both nodes', async () => {
    const { password, jwt } = await credentialInUse();
    await one.ctx.db.deleteFrom('tokens').where('id', '=', await idOf(password)).execute();
    clock.advance(CREDENTIAL_RECHECK_MS);
    expect(await tagsWith(one, jwt)).toBe(401);
    expect(await tagsWith(two, jwt)).toBe(401);
  });

  it('a credential whose expiry is brought forward: within the interval on both nodes', async () => {
    const { password, jwt } = await credentialInUse();
    await one.ctx.db.updateTable('tokens').set({ expires_at: clock.now + 1000 }).where('id', '=', await idOf(password)).execute();
    clock.advance(CREDENTIAL_RECHECK_MS);
    expect(await tagsWith(one, jwt)).toBe(401);
    expect(await tagsWith(two, jwt)).toBe(401);
  });

  it('a credential revoked with `berth admin token revoke` semantics (the service call) on one node', async () => {
    const { password, jwt } = await credentialInUse();
    expect(await two.ctx.credentials.revoke(password)).toBe(true);
    expect(await tagsWith(two, jwt)).toBe(401);
    clock.advance(CREDENTIAL_RECHECK_MS);
    expect(await tagsWith(one, jwt)).toBe(401);
  });
});
