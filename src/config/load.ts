import path from 'node:path';
import { parseDurationSeconds } from './duration.js';
import { configSchema, type Config, type DatabaseConfig, type ListenAddress, type StorageConfig } from './schema.js';

/** Options as they arrive from the command line (commander's camel-cased names). */
export interface ServeFlags {
  dataDir?: string;
  apiListen?: string;
  registryListen?: string;
  registryHost?: string;
  apiUrl?: string;
  databaseUrl?: string;
  storageUrl?: string;
  role?: string;
  logLevel?: string;
  tokenTtl?: string;
  writeTokenTtl?: string;
  uploadTtl?: string;
}

/** Every setting: its flag, its environment variable, its default. README's table mirrors this. */
export const SETTINGS: { key: keyof ServeFlags; flag: string; env: string; default: string; description: string }[] = [
  { key: 'dataDir', flag: '--data-dir <dir>', env: 'BERTH_DATA_DIR', default: './data', description: 'Where SQLite, blobs and uploads live by default' },
  { key: 'apiListen', flag: '--api-listen <host:port>', env: 'BERTH_API_LISTEN', default: '127.0.0.1:8080', description: 'Management API listener (DigitalOcean API, /healthz, /metrics)' },
  { key: 'registryListen', flag: '--registry-listen <host:port>', env: 'BERTH_REGISTRY_LISTEN', default: '127.0.0.1:5000', description: 'Registry listener (OCI Distribution, /auth/token)' },
  { key: 'registryHost', flag: '--registry-host <host[:port]>', env: 'BERTH_REGISTRY_HOST', default: 'the registry listen address', description: 'Public registry name used in image references and config.json' },
  { key: 'apiUrl', flag: '--api-url <url>', env: 'BERTH_API_URL', default: 'http:// + API listen address', description: 'Public base URL of the API (pagination links)' },
  { key: 'databaseUrl', flag: '--database-url <url>', env: 'BERTH_DATABASE_URL', default: 'sqlite:<data-dir>/berth.db', description: '`sqlite:PATH` or `postgres://…`' },
  { key: 'storageUrl', flag: '--storage-url <url>', env: 'BERTH_STORAGE_URL', default: 'file:<data-dir>', description: '`file:PATH` (S3 support follows)' },
  { key: 'role', flag: '--role <role>', env: 'BERTH_ROLE', default: 'all', description: '`all`, `api` or `registry`: which listeners this node runs' },
  { key: 'logLevel', flag: '--log-level <level>', env: 'BERTH_LOG_LEVEL', default: 'info', description: 'pino level: fatal, error, warn, info, debug, trace, silent' },
  { key: 'tokenTtl', flag: '--token-ttl <duration>', env: 'BERTH_TOKEN_TTL', default: '5m', description: 'Lifetime of read-only registry JWTs' },
  { key: 'writeTokenTtl', flag: '--write-token-ttl <duration>', env: 'BERTH_WRITE_TOKEN_TTL', default: '15m', description: 'Maximum lifetime of write-scoped registry JWTs' },
  { key: 'uploadTtl', flag: '--upload-ttl <duration>', env: 'BERTH_UPLOAD_TTL', default: '24h', description: 'Idle upload sessions older than this are removed' },
];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const TOKEN_PATTERN = /^dop_v1_[a-f0-9]{64}$/;

/**
 * Builds the one frozen Config from flags, then environment, then defaults. Every problem is
 * collected so the user sees them all at once.
 */
export function loadConfig(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const problems: string[] = [];
  const pick = (key: keyof ServeFlags): string | undefined => {
    const setting = SETTINGS.find((s) => s.key === key)!;
    const value = flags[key] ?? env[setting.env];
    return value === undefined || value === '' ? undefined : value;
  };
  const name = (key: keyof ServeFlags): string => {
    const s = SETTINGS.find((x) => x.key === key)!;
    return `${s.flag.split(' ')[0]} / ${s.env}`;
  };

  const dataDir = path.resolve(pick('dataDir') ?? './data');
  const apiListen = parseListen(pick('apiListen') ?? '127.0.0.1:8080', name('apiListen'), problems);
  const registryListen = parseListen(pick('registryListen') ?? '127.0.0.1:5000', name('registryListen'), problems);

  const registryHost = pick('registryHost') ?? `${registryListen.host}:${registryListen.port}`;
  if (!/^[a-zA-Z0-9.-]+(?::\d{1,5})?$|^\[[0-9a-fA-F:]+\](?::\d{1,5})?$/.test(registryHost)) {
    problems.push(`${name('registryHost')}: "${registryHost}" must be host or host:port, without a scheme or path`);
  }

  let apiUrl = pick('apiUrl') ?? `http://${apiListen.host}:${apiListen.port}`;
  try {
    const u = new URL(apiUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push(`${name('apiUrl')}: "${apiUrl}" must be an http or https URL`);
    apiUrl = apiUrl.replace(/\/+$/, '');
  } catch {
    problems.push(`${name('apiUrl')}: "${apiUrl}" is not a URL`);
  }

  const database = parseDatabaseUrl(pick('databaseUrl'), dataDir, name('databaseUrl'), problems);
  const storage = parseStorageUrl(pick('storageUrl'), dataDir, name('storageUrl'), problems);

  const bootstrapToken = env.BERTH_BOOTSTRAP_TOKEN || undefined;
  if (bootstrapToken !== undefined && !TOKEN_PATTERN.test(bootstrapToken)) {
    problems.push('BERTH_BOOTSTRAP_TOKEN must look like a DigitalOcean token: "dop_v1_" followed by 64 lowercase hex characters');
  }

  const duration = (key: keyof ServeFlags, fallback: string): number => {
    const raw = pick(key) ?? fallback;
    const seconds = parseDurationSeconds(raw);
    if (seconds === undefined || seconds <= 0) {
      problems.push(`${name(key)}: "${raw}" is not a positive duration (examples: 90s, 15m, 24h)`);
      return 1;
    }
    return seconds;
  };
  const tokenTtlSeconds = duration('tokenTtl', '5m');
  const writeTokenTtlSeconds = duration('writeTokenTtl', '15m');
  const uploadTtlSeconds = duration('uploadTtl', '24h');

  const candidate = {
    dataDir,
    role: pick('role') ?? 'all',
    apiListen,
    registryListen,
    registryHost,
    apiUrl,
    database,
    storage,
    bootstrapToken,
    logLevel: pick('logLevel') ?? 'info',
    tokenTtlSeconds,
    writeTokenTtlSeconds,
    uploadTtlSeconds,
    maxManifestBytes: 4 * 1024 * 1024,
  };
  const parsed = configSchema.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.join('.');
      const setting = SETTINGS.find((s) => s.key === key);
      problems.push(`${setting ? name(setting.key) : key}: ${issue.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(parsed.data!);
}

function parseListen(value: string, label: string, problems: string[]): ListenAddress {
  const match = /^(.*):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !match[1] || port > 65535) {
    problems.push(`${label}: "${value}" must be HOST:PORT (for example 127.0.0.1:5000)`);
    return { host: '127.0.0.1', port: 0 };
  }
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

function parseDatabaseUrl(value: string | undefined, dataDir: string, label: string, problems: string[]): DatabaseConfig {
  if (value === undefined) return { dialect: 'sqlite', file: path.join(dataDir, 'berth.db') };
  if (value.startsWith('sqlite:')) {
    const file = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!file) problems.push(`${label}: "sqlite:" needs a path, e.g. sqlite:./data/berth.db`);
    return { dialect: 'sqlite', file: file === ':memory:' ? file : path.resolve(file || '.') };
  }
  if (value.startsWith('postgres://') || value.startsWith('postgresql://')) {
    try {
      new URL(value);
    } catch {
      problems.push(`${label}: the PostgreSQL URL is malformed`);
    }
    return { dialect: 'postgres', url: value };
  }
  problems.push(`${label}: "${value.replace(/\/\/[^@]*@/, '//***@')}" must start with sqlite: or postgres://`);
  return { dialect: 'sqlite', file: ':memory:' };
}

function parseStorageUrl(value: string | undefined, dataDir: string, label: string, problems: string[]): StorageConfig {
  if (value === undefined) return { driver: 'filesystem', root: dataDir };
  if (value.startsWith('file:')) {
    const root = value.slice('file:'.length).replace(/^\/\/(?=\/)/, '');
    if (!root) problems.push(`${label}: "file:" needs a path, e.g. file:/var/lib/berth`);
    return { driver: 'filesystem', root: path.resolve(root || '.') };
  }
  if (value.startsWith('s3://')) {
    problems.push(`${label}: S3 storage is not available in this version yet; use file:PATH`);
    return { driver: 'filesystem', root: dataDir };
  }
  problems.push(`${label}: "${value}" must start with file: or s3://`);
  return { driver: 'filesystem', root: dataDir };
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
