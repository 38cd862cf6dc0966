export { loadConfig, ConfigError, SETTINGS, parseDatabaseUrl, parseStorageUrl, type ServeFlags } from './load.js';
export { parseDurationSeconds } from './duration.js';
export type { Config, DatabaseConfig, StorageConfig, ListenAddress } from './schema.js';
export { describeDatabase, describeStorage } from './describe.js';
