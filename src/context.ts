import pino, { type Logger } from 'pino';
import { CredentialService, RegistryTokenService } from './auth/index.js';
import type { Config } from './config/index.js';
import { connectDatabase, migrateToLatest, type Db, type Dialect } from './db/index.js';
import {
  BlobService,
  ListingService,
  ManifestService,
  RegistryService,
  RepositoryService,
  TeamService,
  UploadService,
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
  registryTokens: RegistryTokenService;
  close(): Promise<void>;
}

export interface ContextOverrides {
  driver?: BlobDriver;
  logger?: Logger;
}

/** The composition root: the only place that picks concrete drivers and wires services. */
export async function createContext(config: Readonly<Config>, overrides: ContextOverrides = {}): Promise<AppContext> {
  const logger = overrides.logger ?? pino({ level: config.logLevel, base: { service: 'berth' } });
  const db = connectDatabase(config.database);
  try {
    await migrateToLatest(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  const driver = overrides.driver ?? createDriver(config);
  const registries = new RegistryService(db);
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
    repositories: new RepositoryService(db),
    blobs: new BlobService(db, driver),
    uploads: new UploadService(db, driver),
    manifests: new ManifestService(db, driver),
    listings: new ListingService(db, config.database.dialect),
    registryTokens,
    close: () => db.destroy(),
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
