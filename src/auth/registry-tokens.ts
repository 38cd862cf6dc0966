import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, decodeProtectedHeader, type JWK } from 'jose';
import type { Db } from '../db/index.js';
import { parseRepositoryName } from '../oci/index.js';
import { registryActionsOf, type Principal, type RegistryAction } from './credentials.js';
import type { Clock } from './rate-limiter.js';
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
  /** Whether the credential a JWT names may still be used (not revoked, deleted or expired). */
  isCredentialLive: (id: string) => Promise<boolean>;
  clock?: Clock;
}

const ALGORITHM = 'ES256';
const ISSUER = 'berth';
const REFRESH_TTL_SECONDS = 30 * 24 * 3600;
const VERIFY_CACHE_SIZE = 10_000;
/** Clock skew tolerated between the node that issued a JWT and the one checking it. */
const SKEW_SECONDS = 60;

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

  private now(): number {
    return (this.options.clock ?? Date.now)();
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
    let ttl = grantsWrite(access) ? this.writeTtlSeconds : this.options.tokenTtlSeconds;
    const now = Math.floor(this.now() / 1000);
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

  private get writeTtlSeconds(): number {
    return Math.min(this.options.tokenTtlSeconds, this.options.writeTokenTtlSeconds);
  }

  /**
   * Verifies a registry JWT; undefined when it is malformed, tampered with, expired, for
   * another service, longer-lived than this instance issues, or when the credential it was
   * exchanged for has since been revoked, deleted or has expired (as this node last read it,
   * at most CREDENTIAL_RECHECK_MS ago).
   */
  async verify(token: string): Promise<RegistryClaims | undefined> {
    const claims = await this.verifyClaims(token);
    if (!claims) return undefined;
    return (await this.options.isCredentialLive(claims.sub)) ? claims : undefined;
  }

  private async verifyClaims(token: string): Promise<RegistryClaims | undefined> {
    const cached = this.verified.get(token);
    const nowSeconds = this.now() / 1000;
    if (cached) return cached.exp > nowSeconds ? cached : undefined;
    const claims = await this.verifyJwt(token, 'access');
    if (!claims || !this.saneLifetime(claims)) return undefined;
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

  /**
   * Our own JWTs live at most the configured lifetime (write-scoped ones the shorter one) and
   * carry iat, exp and nbf in that order. Anything else was not issued by this configuration:
   * a token minted with a leaked key for a year, or under an older, longer setting.
   */
  private saneLifetime(claims: Record<string, unknown>): boolean {
    const { iat, exp, nbf } = claims;
    if (typeof iat !== 'number' || typeof exp !== 'number' || typeof claims.sub !== 'string') return false;
    const access = Array.isArray(claims.access) ? (claims.access as AccessEntry[]) : [];
    const maxLifetime = grantsWrite(access) ? this.writeTtlSeconds : this.options.tokenTtlSeconds;
    if (exp <= iat || exp - iat > maxLifetime) return false;
    if (iat > this.now() / 1000 + SKEW_SECONDS) return false;
    if (nbf !== undefined && (typeof nbf !== 'number' || nbf > iat || nbf < iat - SKEW_SECONDS)) return false;
    return true;
  }

  /** A long-lived token naming the credential, for OAuth2 refresh_token grants. */
  async issueRefreshToken(principal: Principal): Promise<string> {
    const now = Math.floor(this.now() / 1000);
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
      const { payload } = await jwtVerify(token, key, {
        issuer: ISSUER,
        audience: this.options.service,
        algorithms: [ALGORITHM],
        requiredClaims: ['exp', 'iat', 'sub'],
        currentDate: new Date(this.now()),
        clockTolerance: 0,
      });
      const isRefresh = payload.use === 'refresh';
      if (isRefresh !== (use === 'refresh')) return undefined;
      return payload as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
}

/** True when any granted action changes images (anything but pull; `*` on the catalog only lists). */
function grantsWrite(access: readonly AccessEntry[]): boolean {
  return access.some((a) => Array.isArray(a.actions) && a.actions.some((x) => x !== 'pull' && !(a.type === 'registry' && x === '*')));
}
