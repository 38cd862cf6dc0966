import pino, { type Logger } from 'pino';
import { hostname } from 'node:os';
import { CredentialService, MemoryRateLimiter, RateLimiter, RegistryTokenService, type Clock } from './auth/index.js';
import { GarbageCollectionService } from './gc/index.js';
import type { Config } from './config/index.js';
import { connectDatabase, migrateToLatest, type Db, type Dialect } from './db/index.js';
import {
  BlobService,
  Inventory,
  ListingService,
  ManifestService,
  RegistryService,
  RepositoryService,
  resolveTiers,
  SubscriptionService,
  TeamService,
  TierQuota,
  UploadService,
  UsageService,
  type Tiers,
} from './registry/index.js';
import { createFilesystemDriver, type BlobDriver } from './storage/index.js';

/** Everything a handler, CLI command or background job needs, built once. */
export interface AppContext {
  config: Readonly<Config>;
  logger: Logger;
  db: Db;
  dialect: Dialect;
  driver: BlobDriver;
  teams: TeamService;
  credentials: CredentialService;
  registries: RegistryService;
  repositories: RepositoryService;
  blobs: BlobService;
  uploads: UploadService;
  manifests: ManifestService;
  listings: ListingService;
  inventory: Inventory;
  tiers: Tiers;
  usage: UsageService;
  subscriptions: SubscriptionService;
  registryTokens: RegistryTokenService;
  gc: GarbageCollectionService;
  /** The API's limits: per identity in the database, per address (unauthenticated) in memory. */
  rateLimits: { identified: RateLimiter; anonymous: MemoryRateLimiter };
  close(): Promise<void>;
}

export interface ContextOverrides {
  driver?: BlobDriver;
  logger?: Logger;
  /** Time for rate limits, credential checks and JWTs (tests move it instead of waiting). */
  clock?: Clock;
}

export function createLogger(config: Readonly<Config>): Logger {
  return pino({ level: config.logLevel, base: { service: 'berth' } });
}

/** The composition root: the only place that picks concrete drivers and wires services. */
export async function createContext(config: Readonly<Config>, overrides: ContextOverrides = {}): Promise<AppContext> {
  const logger = overrides.logger ?? createLogger(config);
  const clock = overrides.clock ?? Date.now;
  const db = connectDatabase(config.database);
  try {
    await migrateToLatest(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  const driver = overrides.driver ?? createDriver(config);
  const tiers = resolveTiers(config.tierOverrides);
  const usage = new UsageService(db, logger);
  const quota = new TierQuota(db, usage, tiers, { maxUploadSessions: config.maxUploadSessions });
  const registries = new RegistryService(db, config.regions, tiers);
  const credentials = new CredentialService(db, clock);
  const registryTokens = new RegistryTokenService(db, {
    service: config.registryHost,
    tokenTtlSeconds: config.tokenTtlSeconds,
    writeTokenTtlSeconds: config.writeTokenTtlSeconds,
    findRegistry: async (name) => {
      const r = await registries.byName(name);
      return r ? { teamId: r.team_id, readOnly: r.read_only !== 0 } : undefined;
    },
    isCredentialLive: (id) => credentials.isLive(id),
    clock,
  });
  const limits = { perHour: config.rateLimitPerHour, perMinute: config.rateLimitPerMinute };
  await registryTokens.init();
  return {
    config,
    logger,
    db,
    dialect: config.database.dialect,
    driver,
    teams: new TeamService(db),
    credentials,
    registries,
    repositories: new RepositoryService(db, quota),
    blobs: new BlobService(db, driver, quota, (config.gcGraceSeconds * 1000) / 2),
    uploads: new UploadService(db, driver, quota),
    manifests: new ManifestService(db, driver, quota),
    listings: new ListingService(db, config.database.dialect),
    inventory: new Inventory(db, config.database.dialect),
    tiers,
    usage,
    subscriptions: new SubscriptionService(db, usage, tiers),
    registryTokens,
    gc: new GarbageCollectionService(db, driver, logger, {
      nodeId: `${hostname()}:${process.pid}`,
      graceMs: config.gcGraceSeconds * 1000,
      leaseMs: 30_000,
      readOnlyMode: config.gcMode === 'read-only',
      writeTokenTtlMs: Math.min(config.tokenTtlSeconds, config.writeTokenTtlSeconds) * 1000,
      onFinished: (registryId) => usage.markDirty(registryId),
    }),
    rateLimits: {
      identified: new RateLimiter(db, limits, clock, (err) => logger.error({ err }, 'pruning the rate-limit log failed')),
      anonymous: new MemoryRateLimiter(limits, clock),
    },
    close: async () => {
      usage.stop();
      await db.destroy();
    },
  };
}

const drivers = {
  filesystem: (config: Readonly<Config>) => {
    if (config.storage.driver !== 'filesystem') throw new Error('unreachable');
    return createFilesystemDriver(config.storage.root);
  },
  s3: () => {
    throw new Error('the S3 storage driver is not available yet');
  },
} satisfies Record<Config['storage']['driver'], (config: Readonly<Config>) => BlobDriver>;

function createDriver(config: Readonly<Config>): BlobDriver {
  return drivers[config.storage.driver](config);
}
