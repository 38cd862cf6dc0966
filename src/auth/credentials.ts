import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../db/index.js';
import { AppError } from '../errors/index.js';
import type { Clock } from './rate-limiter.js';

/** Management API scopes, as DigitalOcean names them. `*` is full access. */
export const API_SCOPES = ['registry:read', 'registry:create', 'registry:update', 'registry:delete'] as const;
export type ApiScope = (typeof API_SCOPES)[number];
export const FULL_ACCESS = '*';

/** What a registry credential may do to images: the Docker token protocol's actions. */
export type RegistryAction = 'pull' | 'push' | 'delete';

/** An authenticated caller: who it is, for which team, allowed to do what. */
export interface Principal {
  tokenId: string;
  teamId: string;
  kind: 'api' | 'registry';
  scopes: ReadonlySet<string>;
  /** A docker credential is bound to one registry; null means every registry of the team. */
  registryName: string | null;
  expiresAt: number | null;
}

const TOKEN_PATTERN = /^dop_v1_[a-f0-9]{64}$/;

export function generateToken(): string {
  return `dop_v1_${randomBytes(32).toString('hex')}`;
}

/** Tokens carry 256 random bits, so a fast hash is as strong as a slow one and costs nothing per request. */
export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function hasScope(principal: Principal, scope: ApiScope): boolean {
  return principal.scopes.has(FULL_ACCESS) || principal.scopes.has(scope);
}

/** Maps API scopes onto image actions: read pulls, create/update push, delete deletes. */
export function registryActionsOf(principal: Principal): Set<RegistryAction> {
  const actions = new Set<RegistryAction>();
  if (hasScope(principal, 'registry:read')) actions.add('pull');
  if (hasScope(principal, 'registry:create') || hasScope(principal, 'registry:update')) actions.add('push');
  if (hasScope(principal, 'registry:delete')) actions.add('delete');
  return actions;
}

export function parseScopes(input: string): string[] {
  const scopes = input
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (scopes.length === 0) throw new AppError('BAD_REQUEST', 'at least one scope is required');
  for (const s of scopes) {
    if (s !== FULL_ACCESS && !(API_SCOPES as readonly string[]).includes(s)) {
      throw new AppError('BAD_REQUEST', `unknown scope "${s}"; use * or ${API_SCOPES.join(', ')}`);
    }
  }
  return scopes;
}

export interface IssuedToken {
  id: string;
  secret: string;
  expiresAt: number | null;
}

/**
 * How long a node trusts what it last read about a credential before reading it again. A
 * credential revoked, deleted or expired on any node stops working everywhere within this
 * time (expiry is checked on every use against the remembered expiry, so it is exact).
 */
export const CREDENTIAL_RECHECK_MS = 10_000;

const LIVENESS_CACHE_SIZE = 10_000;

interface Liveness {
  live: boolean;
  expiresAt: number | null;
  checkedAt: number;
}

/** Issues, stores (hashed) and checks API tokens and docker credentials. */
export class CredentialService {
  private readonly liveness = new Map<string, Liveness>();
  private readonly pending = new Map<string, Promise<Liveness>>();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock = Date.now,
  ) {}

  async issue(input: {
    teamId: string;
    kind: 'api' | 'registry';
    scopes: readonly string[];
    registryName?: string | null;
    expiresAt?: number | null;
    description?: string | null;
    secret?: string;
  }): Promise<IssuedToken> {
    const secret = input.secret ?? generateToken();
    const id = randomUUID();
    await this.db
      .insertInto('tokens')
      .values({
        id,
        team_id: input.teamId,
        hash: hashToken(secret),
        kind: input.kind,
        scopes: JSON.stringify(input.scopes),
        registry_name: input.registryName ?? null,
        description: input.description ?? null,
        expires_at: input.expiresAt ?? null,
        revoked_at: null,
        created_at: Date.now(),
      })
      .execute();
    return { id, secret, expiresAt: input.expiresAt ?? null };
  }

  /** The principal behind a secret, or undefined when it is unknown, expired or revoked. */
  async authenticate(secret: string): Promise<Principal | undefined> {
    if (!TOKEN_PATTERN.test(secret)) return undefined;
    const row = await this.db.selectFrom('tokens').selectAll().where('hash', '=', hashToken(secret)).executeTakeFirst();
    if (!row || row.revoked_at !== null) return undefined;
    if (row.expires_at !== null && row.expires_at <= this.clock()) return undefined;
    return toPrincipal(row);
  }

  /**
   * Whether the credential with this id still exists, is not revoked and has not expired, as
   * this node last read it at most CREDENTIAL_RECHECK_MS ago. Registry JWTs name their
   * credential, and this is what lets revoking it end the JWTs it was exchanged for, on every
   * node sharing the database, without a query per request.
   */
  async isLive(id: string): Promise<boolean> {
    const now = this.clock();
    let known = this.liveness.get(id);
    if (!known || now - known.checkedAt >= CREDENTIAL_RECHECK_MS || now < known.checkedAt) known = await this.readLiveness(id);
    return known.live && (known.expiresAt === null || known.expiresAt > now);
  }

  private readLiveness(id: string): Promise<Liveness> {
    const inFlight = this.pending.get(id);
    if (inFlight) return inFlight;
    const read = (async () => {
      const checkedAt = this.clock();
      const row = await this.db.selectFrom('tokens').select(['revoked_at', 'expires_at']).where('id', '=', id).executeTakeFirst();
      const liveness: Liveness = { live: row !== undefined && row.revoked_at === null, expiresAt: row?.expires_at ?? null, checkedAt };
      this.liveness.delete(id);
      this.liveness.set(id, liveness);
      if (this.liveness.size > LIVENESS_CACHE_SIZE) this.liveness.delete(this.liveness.keys().next().value!);
      return liveness;
    })().finally(() => this.pending.delete(id));
    this.pending.set(id, read);
    return read;
  }

  /** Re-checks a credential by id (refresh tokens name the credential, not its secret). */
  async byId(id: string): Promise<Principal | undefined> {
    const row = await this.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || row.revoked_at !== null) return undefined;
    if (row.expires_at !== null && row.expires_at <= this.clock()) return undefined;
    return toPrincipal(row);
  }

  /** Revokes by secret; true when a live credential was revoked. This node forgets it at once. */
  async revoke(secret: string): Promise<boolean> {
    const revoked = await this.db
      .updateTable('tokens')
      .set({ revoked_at: this.clock() })
      .where('hash', '=', hashToken(secret))
      .where('revoked_at', 'is', null)
      .returning('id')
      .execute();
    for (const { id } of revoked) this.liveness.set(id, { live: false, expiresAt: null, checkedAt: this.clock() });
    return revoked.length > 0;
  }

  async hasAny(): Promise<boolean> {
    return (await this.db.selectFrom('tokens').select('id').limit(1).executeTakeFirst()) !== undefined;
  }

  async existsBySecret(secret: string): Promise<boolean> {
    return (await this.db.selectFrom('tokens').select('id').where('hash', '=', hashToken(secret)).executeTakeFirst()) !== undefined;
  }
}

function toPrincipal(row: { id: string; team_id: string; kind: string; scopes: string; registry_name: string | null; expires_at: number | null }): Principal {
  return {
    tokenId: row.id,
    teamId: row.team_id,
    kind: row.kind === 'registry' ? 'registry' : 'api',
    scopes: new Set(JSON.parse(row.scopes) as string[]),
    registryName: row.registry_name,
    expiresAt: row.expires_at,
  };
}
