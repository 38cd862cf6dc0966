import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, decodeProtectedHeader, type JWK } from 'jose';
import type { Db } from '../db/index.js';
import { parseRepositoryName } from '../oci/index.js';
import { registryActionsOf, type Principal, type RegistryAction } from './credentials.js';
import { expandActions, type AccessEntry, type DeniedEntry } from './scope.js';

type KeyLike = Awaited<ReturnType<typeof importJWK>>;

export interface RegistryClaims {
  /** Credential id. */
  sub: string;
  team: string;
  /** Set when the credential is bound to one registry (docker credentials). */
  reg: string | null;
  access: AccessEntry[];
  denied: DeniedEntry[];
  exp: number;
  iat: number;
}

export interface IssuedRegistryToken {
  token: string;
  expiresIn: number;
  issuedAt: string;
  access: AccessEntry[];
}

export interface RegistryTokenOptions {
  /** The `service` of the challenge and the JWT audience: the public registry host. */
  service: string;
  tokenTtlSeconds: number;
  writeTokenTtlSeconds: number;
  /** Looks up a registry for the grant decision; undefined when it does not exist. */
  findRegistry: (name: string) => Promise<{ teamId: string; readOnly: boolean } | undefined>;
}

const ALGORITHM = 'ES256';
const ISSUER = 'berth';
const REFRESH_TTL_SECONDS = 30 * 24 * 3600;
const VERIFY_CACHE_SIZE = 10_000;

/**
 * The Docker token service's core: decides what a credential gets (the intersection of what
 * was asked and what it may do) and signs it as a short-lived JWT with a key shared through
 * the database, so every node issues and accepts the same tokens.
 */
export class RegistryTokenService {
  private signingKey: { kid: string; key: KeyLike } | undefined;
  private readonly verifyKeys = new Map<string, KeyLike>();
  private readonly verified = new Map<string, RegistryClaims>();

  constructor(
    private readonly db: Db,
    private readonly options: RegistryTokenOptions,
  ) {}

  get service(): string {
    return this.options.service;
  }

  /** Loads the signing key, generating and persisting one on the very first start. */
  async init(): Promise<void> {
    let rows = await this.db.selectFrom('signing_keys').selectAll().orderBy('created_at').orderBy('kid').execute();
    if (rows.length === 0) {
      const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { extractable: true });
      const publicJwk = await exportJWK(publicKey);
      const kid = await calculateJwkThumbprint(publicJwk);
      await this.db
        .insertInto('signing_keys')
        .values({
          kid,
          algorithm: ALGORITHM,
          private_jwk: JSON.stringify(await exportJWK(privateKey)),
          public_jwk: JSON.stringify(publicJwk),
          created_at: Date.now(),
        })
        .onConflict((oc) => oc.doNothing())
        .execute();
      // Another node may have won the race; everyone signs with the oldest key.
      rows = await this.db.selectFrom('signing_keys').selectAll().orderBy('created_at').orderBy('kid').execute();
    }
    for (const row of rows) this.verifyKeys.set(row.kid, await importJWK(JSON.parse(row.public_jwk) as JWK, row.algorithm));
    const first = rows[0]!;
    this.signingKey = { kid: first.kid, key: await importJWK(JSON.parse(first.private_jwk) as JWK, first.algorithm) };
  }

  /** Grants each requested scope as far as the principal may; records what was refused and why. */
  async grant(principal: Principal, requested: readonly AccessEntry[]): Promise<{ access: AccessEntry[]; denied: DeniedEntry[] }> {
    const allowed = registryActionsOf(principal);
    const access: AccessEntry[] = [];
    const denied: DeniedEntry[] = [];
    for (const entry of requested) {
      if (entry.type === 'registry' && entry.name === 'catalog') {
        if (allowed.has('pull')) access.push({ type: 'registry', name: 'catalog', actions: ['*'] });
        continue;
      }
      if (entry.type !== 'repository') continue;
      const wanted = expandActions(entry.actions);
      if (wanted.length === 0) continue;
      const name = parseRepositoryName(entry.name);
      const registry = typeof name === 'string' ? undefined : await this.options.findRegistry(name.registry);
      const visible =
        typeof name !== 'string' &&
        registry !== undefined &&
        registry.teamId === principal.teamId &&
        (principal.registryName === null || principal.registryName === name.registry);
      if (!visible) {
        denied.push({ ...entry, actions: wanted, reason: 'the registry does not exist or this credential has no access to it' });
        continue;
      }
      const granted: RegistryAction[] = [];
      const refused: RegistryAction[] = [];
      for (const action of wanted) {
        if (!allowed.has(action)) refused.push(action);
        else if (action !== 'pull' && registry!.readOnly) refused.push(action);
        else granted.push(action);
      }
      if (granted.length > 0) access.push({ type: 'repository', name: entry.name, actions: granted });
      if (refused.length > 0) {
        const reason = refused.some((a) => allowed.has(a))
          ? 'the registry is read-only while garbage collection runs'
          : principal.kind === 'registry' && !allowed.has('push')
            ? 'this credential is read-only'
            : `this credential lacks the scope for ${refused.join(', ')}`;
        denied.push({ type: 'repository', name: entry.name, actions: refused, reason });
      }
    }
    return { access, denied };
  }

  async issue(principal: Principal, requested: readonly AccessEntry[]): Promise<IssuedRegistryToken> {
    const { access, denied } = await this.grant(principal, requested);
    const writes = access.some((a) => a.actions.some((x) => x !== 'pull' && x !== '*') || (a.type === 'repository' && a.actions.includes('*')));
    let ttl = writes ? Math.min(this.options.tokenTtlSeconds, this.options.writeTokenTtlSeconds) : this.options.tokenTtlSeconds;
    const now = Math.floor(Date.now() / 1000);
    if (principal.expiresAt !== null) ttl = Math.max(1, Math.min(ttl, Math.floor(principal.expiresAt / 1000) - now));
    const token = await new SignJWT({ team: principal.teamId, reg: principal.registryName, access, denied })
      .setProtectedHeader({ alg: ALGORITHM, kid: this.key.kid, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(this.options.service)
      .setSubject(principal.tokenId)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + ttl)
      .setJti(randomUUID())
      .sign(this.key.key);
    return { token, expiresIn: ttl, issuedAt: new Date(now * 1000).toISOString(), access };
  }

  /** Verifies a registry JWT; undefined when it is malformed, tampered with, expired or for another service. */
  async verify(token: string): Promise<RegistryClaims | undefined> {
    const cached = this.verified.get(token);
    const nowSeconds = Date.now() / 1000;
    if (cached) return cached.exp > nowSeconds ? cached : undefined;
    const claims = await this.verifyJwt(token, 'access');
    if (!claims) return undefined;
    const result: RegistryClaims = {
      sub: String(claims.sub),
      team: String(claims.team),
      reg: typeof claims.reg === 'string' ? claims.reg : null,
      access: Array.isArray(claims.access) ? (claims.access as AccessEntry[]) : [],
      denied: Array.isArray(claims.denied) ? (claims.denied as DeniedEntry[]) : [],
      exp: Number(claims.exp),
      iat: Number(claims.iat),
    };
    if (this.verified.size >= VERIFY_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, result);
    return result;
  }

  /** A long-lived token naming the credential, for OAuth2 refresh_token grants. */
  async issueRefreshToken(principal: Principal): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    let exp = now + REFRESH_TTL_SECONDS;
    if (principal.expiresAt !== null) exp = Math.min(exp, Math.floor(principal.expiresAt / 1000));
    return new SignJWT({ use: 'refresh' })
      .setProtectedHeader({ alg: ALGORITHM, kid: this.key.kid, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(this.options.service)
      .setSubject(principal.tokenId)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(this.key.key);
  }

  /** The credential id a refresh token names, when the token is genuine and current. */
  async verifyRefreshToken(token: string): Promise<string | undefined> {
    const claims = await this.verifyJwt(token, 'refresh');
    return claims ? String(claims.sub) : undefined;
  }

  private get key(): { kid: string; key: KeyLike } {
    if (!this.signingKey) throw new Error('RegistryTokenService.init() was not called');
    return this.signingKey;
  }

  private async verifyJwt(token: string, use: 'access' | 'refresh'): Promise<Record<string, unknown> | undefined> {
    try {
      const { kid } = decodeProtectedHeader(token);
      if (!kid) return undefined;
      let key = this.verifyKeys.get(kid);
      if (!key) {
        const row = await this.db.selectFrom('signing_keys').selectAll().where('kid', '=', kid).executeTakeFirst();
        if (!row) return undefined;
        key = await importJWK(JSON.parse(row.public_jwk) as JWK, row.algorithm);
        this.verifyKeys.set(kid, key);
      }
      const { payload } = await jwtVerify(token, key, { issuer: ISSUER, audience: this.options.service, algorithms: [ALGORITHM] });
      const isRefresh = payload.use === 'refresh';
      if (isRefresh !== (use === 'refresh')) return undefined;
      return payload as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
}
