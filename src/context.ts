import type { Logger } from 'pino';
import { hostname } from 'node:os';
import { CredentialService, MemoryRateLimiter, RateLimiter, RegistryTokenService, type Clock } from './auth/index.js';
import { GarbageCollectionService } from './gc/index.js';
import type { Config } from './config/index.js';
import { createLogger } from './logging.js';
import { connectDatabase, migrateToLatest, type Db, type Dialect } from './db/index.js';
import { BERTH_VERSION } from './version.js';
import { Metrics } from './metrics/index.js';
import { databaseObserver, storageObserver } from './ops/observers.js';
import { HealthChecker } from './ops/health.js';
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
import { claimStorage } from './registry/storage-identity.js';
import { createFilesystemDriver, observeDriver, type BlobDriver } from './storage/index.js';

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
  /** This process's Prometheus metrics (served by the metrics listener). */
  metrics: Metrics;
  /** Dependency checks behind /healthz and /readyz. */
  health: HealthChecker;
  close(): Promise<void>;
}

export interface ContextOverrides {
  driver?: BlobDriver;
  logger?: Logger;
  /** Time for rate limits, credential checks and JWTs (tests move it instead of waiting). */
  clock?: Clock;
  metrics?: Metrics;
}

/** The composition root: the only place that picks concrete drivers and wires services. */
export async function createContext(config: Readonly<Config>, overrides: ContextOverrides = {}): Promise<AppContext> {
  const logger = overrides.logger ?? createLogger(config);
  const clock = overrides.clock ?? Date.now;
  const metrics = overrides.metrics ?? new Metrics(BERTH_VERSION);
  const db = connectDatabase(config.database, databaseObserver(metrics, logger));
  try {
    await migrateToLatest(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  // Every storage call is timed and its failures counted, whichever driver serves it.
  // (The observer tells the health checker whether writes find space; no write runs before it exists.)
  const driver = observeDriver(overrides.driver ?? (await createDriver(config.storage)), storageObserver(metrics, (full) => health.noteStorageWrite(full)));
  const health = new HealthChecker(db, driver, metrics, { database: config.database.dialect, storage: config.storage.driver });
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
  const manifests = new ManifestService(db, driver, quota);
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
    manifests,
    listings: new ListingService(db, config.database.dialect),
    inventory: new Inventory(db, config.database.dialect, (digest) => manifests.bytes({ digest })),
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
      onEnded: (status, totals) => {
        metrics.gcRuns.inc({ status });
        metrics.gcFreedBytes.inc(totals.freedBytes);
        metrics.gcBlobsDeleted.inc(totals.blobsDeleted);
      },
    }),
    rateLimits: {
      identified: new RateLimiter(db, limits, clock, (err) => logger.error({ err }, 'pruning the rate-limit log failed')),
      anonymous: new MemoryRateLimiter(limits, clock),
    },
    metrics,
    health,
    close: async () => {
      usage.stop();
      await db.destroy();
      await driver.close?.();
    },
  };
}

type StorageOf<D> = Extract<Config['storage'], { driver: D }>;

const drivers: { [D in Config['storage']['driver']]: (storage: StorageOf<D>) => Promise<BlobDriver> } = {
  filesystem: async (storage) => createFilesystemDriver(storage.root),
  // The AWS SDK is large: only nodes that use S3 load it.
  s3: async (storage) => (await import('./storage/s3.js')).createS3Driver(storage),
};

/** The blob driver a storage configuration names (also what backup, restore and migrate-data open). */
export function createDriver(storage: Config['storage']): Promise<BlobDriver> {
  return (drivers[storage.driver] as (s: Config['storage']) => Promise<BlobDriver>)(storage);
}

/**
 * Before a node serves: the storage must work (S3: the bucket exists, the credentials may
 * write, list and delete) and be the storage this database's blobs live in. Throws one clear
 * error otherwise, so a misconfigured node never half-works.
 */
export async function checkStorage(ctx: AppContext): Promise<void> {
  await ctx.driver.check?.();
  await claimStorage(ctx.db, await ctx.driver.identity(), ctx.logger);
}
