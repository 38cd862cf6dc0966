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
  regions?: string;
  tiers?: string;
  rateLimitPerHour?: string;
  rateLimitPerMinute?: string;
  gcGrace?: string;
  gcMode?: string;
  metricsListen?: string;
  logFormat?: string;
}

/** Every setting: its flag, its environment variable, its default. README's table mirrors this. */
export const SETTINGS: { key: keyof ServeFlags; flag: string; env: string; default: string; description: string }[] = [
  { key: 'dataDir', flag: '--data-dir <dir>', env: 'BERTH_DATA_DIR', default: './data', description: 'Where SQLite, blobs and uploads live by default' },
  { key: 'apiListen', flag: '--api-listen <host:port>', env: 'BERTH_API_LISTEN', default: '127.0.0.1:8080', description: 'Management API listener (DigitalOcean API, /healthz, /readyz, /livez)' },
  { key: 'registryListen', flag: '--registry-listen <host:port>', env: 'BERTH_REGISTRY_LISTEN', default: '127.0.0.1:5000', description: 'Registry listener (OCI Distribution, /auth/token, /healthz, /readyz, /livez)' },
  { key: 'registryHost', flag: '--registry-host <host[:port]>', env: 'BERTH_REGISTRY_HOST', default: 'the registry listen address', description: 'Public registry name used in image references and config.json' },
  { key: 'apiUrl', flag: '--api-url <url>', env: 'BERTH_API_URL', default: 'http:// + API listen address', description: 'Public base URL of the API (pagination links)' },
  { key: 'databaseUrl', flag: '--database-url <url>', env: 'BERTH_DATABASE_URL', default: 'sqlite:<data-dir>/berth.db', description: '`sqlite:PATH` or `postgres://…`' },
  { key: 'storageUrl', flag: '--storage-url <url>', env: 'BERTH_STORAGE_URL', default: 'file:<data-dir>', description: '`file:PATH` (S3 support follows)' },
  { key: 'role', flag: '--role <role>', env: 'BERTH_ROLE', default: 'all', description: '`all`, `api` or `registry`: which listeners this node runs' },
  { key: 'logLevel', flag: '--log-level <level>', env: 'BERTH_LOG_LEVEL', default: 'info', description: 'pino level: fatal, error, warn, info, debug, trace, silent' },
  { key: 'tokenTtl', flag: '--token-ttl <duration>', env: 'BERTH_TOKEN_TTL', default: '5m', description: 'Lifetime of read-only registry JWTs' },
  { key: 'writeTokenTtl', flag: '--write-token-ttl <duration>', env: 'BERTH_WRITE_TOKEN_TTL', default: '15m', description: 'Maximum lifetime of write-scoped registry JWTs' },
  { key: 'uploadTtl', flag: '--upload-ttl <duration>', env: 'BERTH_UPLOAD_TTL', default: '24h', description: 'Idle upload sessions older than this are removed' },
  { key: 'regions', flag: '--regions <list>', env: 'BERTH_REGIONS', default: 'nyc3,sfo3,ams3,sgp1,fra1', description: 'Comma-separated regions the API offers; the first is the default' },
  { key: 'tiers', flag: '--tiers <json>', env: 'BERTH_TIERS', default: "the reference's numbers", description: 'JSON overrides per tier, e.g. `{"starter":{"included_storage_bytes":1048576}}`' },
  { key: 'rateLimitPerHour', flag: '--rate-limit-per-hour <n>', env: 'BERTH_RATE_LIMIT_PER_HOUR', default: '5000', description: 'API requests per token per hour' },
  { key: 'gcGrace', flag: '--gc-grace <duration>', env: 'BERTH_GC_GRACE', default: '1h', description: 'Garbage collection keeps anything written or linked more recently than this' },
  { key: 'gcMode', flag: '--gc-mode <mode>', env: 'BERTH_GC_MODE', default: 'online', description: '`online` (no read-only window) or `read-only` (DigitalOcean\'s: refuse pushes while collecting)' },
  { key: 'rateLimitPerMinute', flag: '--rate-limit-per-minute <n>', env: 'BERTH_RATE_LIMIT_PER_MINUTE', default: '250', description: 'API requests per token per minute' },
  { key: 'metricsListen', flag: '--metrics-listen <host:port>', env: 'BERTH_METRICS_LISTEN', default: 'off', description: 'Prometheus listener serving /metrics (and /livez, /readyz, /healthz); off unless set' },
  { key: 'logFormat', flag: '--log-format <format>', env: 'BERTH_LOG_FORMAT', default: 'auto', description: '`json`, `pretty` (one readable line per event) or `auto` (pretty when stdout is a terminal)' },
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
  const metricsListenRaw = pick('metricsListen');
  const metricsListen = metricsListenRaw === undefined || metricsListenRaw === 'off' ? undefined : parseListen(metricsListenRaw, name('metricsListen'), problems);

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
  const gcGraceSeconds = duration('gcGrace', '1h');

  const regions = (pick('regions') ?? 'nyc3,sfo3,ams3,sgp1,fra1')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  if (regions.length === 0 || regions.some((r) => !/^[a-z0-9-]{1,32}$/.test(r))) problems.push(`${name('regions')}: expected a comma-separated list of region slugs such as nyc3,fra1`);
  const tierOverrides = parseTierOverrides(pick('tiers'), name('tiers'), problems);
  const positive = (key: keyof ServeFlags, fallback: string): number => {
    const raw = pick(key) ?? fallback;
    if (!/^\d+$/.test(raw) || Number(raw) <= 0) {
      problems.push(`${name(key)}: "${raw}" must be a positive integer`);
      return 1;
    }
    return Number(raw);
  };
  const rateLimitPerHour = positive('rateLimitPerHour', '5000');
  const rateLimitPerMinute = positive('rateLimitPerMinute', '250');

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
    regions,
    tierOverrides,
    rateLimitPerHour,
    rateLimitPerMinute,
    gcGraceSeconds,
    gcMode: pick('gcMode') ?? 'online',
    metricsListen,
    logFormat: pick('logFormat') ?? 'auto',
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

const TIER_FIELDS: Record<string, 'number' | 'boolean' | 'string'> = {
  name: 'string',
  included_repositories: 'number',
  included_storage_bytes: 'number',
  allow_storage_overage: 'boolean',
  included_bandwidth_bytes: 'number',
  monthly_price_in_cents: 'number',
  storage_overage_price_in_cents: 'number',
  max_registries: 'number',
};

function parseTierOverrides(value: string | undefined, label: string, problems: string[]): Record<string, Record<string, number | boolean | string>> {
  if (value === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    problems.push(`${label}: not valid JSON`);
    return {};
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(`${label}: expected an object keyed by tier slug`);
    return {};
  }
  const out: Record<string, Record<string, number | boolean | string>> = {};
  for (const [slug, fields] of Object.entries(parsed)) {
    if (!['starter', 'basic', 'professional'].includes(slug)) {
      problems.push(`${label}: unknown tier "${slug}" (starter, basic, professional)`);
      continue;
    }
    if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) {
      problems.push(`${label}: ${slug} must be an object`);
      continue;
    }
    out[slug] = {};
    for (const [field, v] of Object.entries(fields as Record<string, unknown>)) {
      const type = TIER_FIELDS[field];
      if (!type) problems.push(`${label}: unknown field ${slug}.${field}`);
      else if (typeof v !== type || (type === 'number' && (!Number.isSafeInteger(v) || (v as number) < 0))) problems.push(`${label}: ${slug}.${field} must be a ${type === 'number' ? 'non-negative integer' : type}`);
      else out[slug][field] = v as number | boolean | string;
    }
  }
  return out;
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

export function parseDatabaseUrl(value: string | undefined, dataDir: string, label: string, problems: string[]): DatabaseConfig {
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

export function parseStorageUrl(value: string | undefined, dataDir: string, label: string, problems: string[]): StorageConfig {
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
