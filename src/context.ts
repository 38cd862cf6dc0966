import type { Logger } from 'pino';
import { hostname } from 'node:os';
import { CredentialService, RegistryTokenService } from './auth/index.js';
import { GarbageCollectionService } from './gc/index.js';
import type { Config } from './config/index.js';
import { connectDatabase, migrateToLatest, type Db, type Dialect } from './db/index.js';
import { createLogger } from './logger.js';
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
  /** This process's Prometheus metrics (served by the metrics listener). */
  metrics: Metrics;
  /** Dependency checks behind /healthz and /readyz. */
  health: HealthChecker;
  close(): Promise<void>;
}

export interface ContextOverrides {
  driver?: BlobDriver;
  logger?: Logger;
  metrics?: Metrics;
}

/** The composition root: the only place that picks concrete drivers and wires services. */
export async function createContext(config: Readonly<Config>, overrides: ContextOverrides = {}): Promise<AppContext> {
  const logger = overrides.logger ?? createLogger(config);
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
  const driver = observeDriver(overrides.driver ?? createDriver(config), storageObserver(metrics, (full) => health.noteStorageWrite(full)));
  const health = new HealthChecker(db, driver, metrics);
  const tiers = resolveTiers(config.tierOverrides);
  const usage = new UsageService(db, logger);
  const quota = new TierQuota(db, usage, tiers);
  const registries = new RegistryService(db, config.regions, tiers);
  const registryTokens = new RegistryTokenService(db, {
    service: config.registryHost,
    tokenTtlSeconds: config.tokenTtlSeconds,
    writeTokenTtlSeconds: config.writeTokenTtlSeconds,
    findRegistry: async (name) => {
      const r = await registries.byName(name);
      return r ? { teamId: r.team_id, readOnly: r.read_only !== 0 } : undefined;
    },
  });
  await registryTokens.init();
  return {
    config,
    logger,
    db,
    dialect: config.database.dialect,
    driver,
    teams: new TeamService(db),
    credentials: new CredentialService(db),
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
      onEnded: (status, totals) => {
        metrics.gcRuns.inc({ status });
        metrics.gcFreedBytes.inc(totals.freedBytes);
        metrics.gcBlobsDeleted.inc(totals.blobsDeleted);
      },
    }),
    metrics,
    health,
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

/** The blob driver the configuration names (also used by backup, restore and migrate-data). */
export function createDriver(config: Readonly<Config>): BlobDriver {
  return drivers[config.storage.driver](config);
}
