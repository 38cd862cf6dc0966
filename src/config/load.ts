import { isIP } from 'node:net';
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
  storageRedirect?: string | boolean;
  role?: string;
  logLevel?: string;
  tokenTtl?: string;
  writeTokenTtl?: string;
  uploadTtl?: string;
  regions?: string;
  tiers?: string;
  rateLimitPerHour?: string;
  rateLimitPerMinute?: string;
  maxUploadSessions?: string;
  gcGrace?: string;
  gcMode?: string;
  tlsCert?: string;
  tlsKey?: string;
  trustProxy?: string;
  bodyTimeout?: string;
  headerTimeout?: string;
  maxConnections?: string;
  maxTokenScopes?: string;
  ui?: string;
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
  { key: 'storageUrl', flag: '--storage-url <url>', env: 'BERTH_STORAGE_URL', default: 'file:<data-dir>', description: '`file:PATH` or `s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION&force-path-style=true` (see Storage)' },
  { key: 'storageRedirect', flag: '--storage-redirect', env: 'BERTH_STORAGE_REDIRECT', default: 'false', description: 'S3 only: answer blob GETs with a 307 to a presigned URL valid for 10 minutes' },
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
  { key: 'tlsCert', flag: '--tls-cert <file>', env: 'BERTH_TLS_CERT', default: 'none (plain HTTP)', description: 'PEM certificate chain: both listeners serve HTTPS (reloaded on SIGHUP); needs --tls-key' },
  { key: 'tlsKey', flag: '--tls-key <file>', env: 'BERTH_TLS_KEY', default: 'none', description: 'PEM private key of --tls-cert' },
  { key: 'trustProxy', flag: '--trust-proxy <list>', env: 'BERTH_TRUST_PROXY', default: 'none', description: 'Comma-separated addresses or CIDRs (or `loopback`, `linklocal`, `uniquelocal`) of proxies whose X-Forwarded-For/-Proto/-Host are believed' },
  { key: 'bodyTimeout', flag: '--body-timeout <duration>', env: 'BERTH_BODY_TIMEOUT', default: '60s', description: 'A connection on which a request makes no progress (no byte received or sent) for this long is closed' },
  { key: 'headerTimeout', flag: '--header-timeout <duration>', env: 'BERTH_HEADER_TIMEOUT', default: '10s', description: 'Time a client has to send a request line and all its headers (408 after that)' },
  { key: 'maxConnections', flag: '--max-connections <n>', env: 'BERTH_MAX_CONNECTIONS', default: '512', description: 'Open connections per listener; further connections are closed at once' },
  { key: 'maxTokenScopes', flag: '--max-token-scopes <n>', env: 'BERTH_MAX_TOKEN_SCOPES', default: '50', description: 'Scopes one /auth/token request may ask for (docker, podman and containerd send 1–3)' },
  { key: 'ui', flag: '--ui <bool>', env: 'BERTH_UI', default: 'true', description: 'Serve the web console at / on the API listener; `--ui=false` turns it off' },
  { key: 'maxUploadSessions', flag: '--max-upload-sessions <n>', env: 'BERTH_MAX_UPLOAD_SESSIONS', default: '100', description: 'Upload sessions a team may have open at once (`0`: no cap)' },
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
    return value === undefined || value === '' ? undefined : String(value);
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

  const tls = parseTls(pick('tlsCert'), pick('tlsKey'), name('tlsCert'), name('tlsKey'), problems);
  let apiUrl = pick('apiUrl') ?? `${tls ? 'https' : 'http'}://${apiListen.host}:${apiListen.port}`;
  try {
    const u = new URL(apiUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push(`${name('apiUrl')}: "${apiUrl}" must be an http or https URL`);
    apiUrl = apiUrl.replace(/\/+$/, '');
  } catch {
    problems.push(`${name('apiUrl')}: "${apiUrl}" is not a URL`);
  }

  const database = parseDatabaseUrl(pick('databaseUrl'), dataDir, name('databaseUrl'), problems);
  const storage = parseStorageUrl(pick('storageUrl'), dataDir, name('storageUrl'), problems);
  const storageRedirect = parseBoolean(flags.storageRedirect ?? env.BERTH_STORAGE_REDIRECT, name('storageRedirect'), problems);
  if (storageRedirect && storage.driver !== 's3' && !pick('storageUrl')?.startsWith('s3://')) problems.push(`${name('storageRedirect')}: redirects need S3 storage (--storage-url s3://…)`);

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
  const maxConnections = positive('maxConnections', '512');
  const maxTokenScopes = positive('maxTokenScopes', '50');
  const bodyTimeoutSeconds = duration('bodyTimeout', '60s');
  const headerTimeoutSeconds = duration('headerTimeout', '10s');
  const trustProxy = parseTrustProxy(pick('trustProxy'), name('trustProxy'), problems);
  const uiRaw = (pick('ui') ?? 'true').toLowerCase();
  const ui = ['true', '1', 'yes', 'on'].includes(uiRaw) ? true : ['false', '0', 'no', 'off'].includes(uiRaw) ? false : undefined;
  if (ui === undefined) problems.push(`${name('ui')}: "${uiRaw}" must be true or false`);
  const maxUploadSessionsRaw = pick('maxUploadSessions') ?? '100';
  if (!/^\d+$/.test(maxUploadSessionsRaw)) problems.push(`${name('maxUploadSessions')}: "${maxUploadSessionsRaw}" must be a whole number (0 for no cap)`);
  const maxUploadSessions = /^\d+$/.test(maxUploadSessionsRaw) ? Number(maxUploadSessionsRaw) : 0;

  const candidate = {
    dataDir,
    role: pick('role') ?? 'all',
    apiListen,
    registryListen,
    registryHost,
    apiUrl,
    database,
    storage,
    storageRedirect,
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
    maxUploadSessions,
    gcGraceSeconds,
    gcMode: pick('gcMode') ?? 'online',
    tls,
    trustProxy,
    bodyTimeoutSeconds,
    headerTimeoutSeconds,
    maxConnections,
    maxTokenScopes,
    ui: ui ?? true,
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

function parseTls(cert: string | undefined, key: string | undefined, certLabel: string, keyLabel: string, problems: string[]): { certFile: string; keyFile: string } | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    problems.push(`${cert === undefined ? certLabel : keyLabel}: needed too, since ${cert === undefined ? keyLabel : certLabel} is set (HTTPS takes both)`);
    return undefined;
  }
  return { certFile: path.resolve(cert), keyFile: path.resolve(key) };
}

const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** `--trust-proxy`: addresses, CIDRs or proxy-addr's named ranges; checked here, compiled by http/. */
function parseTrustProxy(value: string | undefined, label: string, problems: string[]): string[] {
  if (value === undefined) return [];
  const entries = value
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const entry of entries) {
    if (PROXY_RANGES.has(entry)) continue;
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const maxBits = family === 6 ? 128 : 32;
    const bitsOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits);
    if (family === 0 || !bitsOk || extra !== undefined) problems.push(`${label}: "${entry}" is not an IP address, a CIDR (10.0.0.0/8) or one of ${[...PROXY_RANGES].join(', ')}`);
  }
  return entries;
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
  if (value.startsWith('s3://')) return parseS3Url(value, label, problems) ?? { driver: 'filesystem', root: dataDir };
  problems.push(`${label}: "${value.replace(/\/\/[^@/]*@/, '//***@')}" must start with file: or s3://`);
  return { driver: 'filesystem', root: dataDir };
}

const S3_PARAMETERS = ['endpoint', 'region', 'force-path-style'];

/** `s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION&force-path-style=true`; credentials come from the AWS SDK's chain. */
function parseS3Url(value: string, label: string, problems: string[]): StorageConfig | undefined {
  const problem = (text: string) => {
    problems.push(`${label}: ${text}`);
    return undefined;
  };
  if (/^s3:\/\/[^/?#]*@/.test(value)) {
    return problem('credentials do not belong in the storage URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment');
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return problem(`"${value}" is not a valid URL; expected s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION&force-path-style=true`);
  }
  const bucket = url.hostname;
  if (url.port) return problem(`"${value}": the bucket name cannot have a port; put the endpoint in endpoint=`);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    return problem(`"${bucket}" is not a valid bucket name (3–63 lowercase letters, digits, dots and hyphens)`);
  }
  let prefix: string;
  try {
    // The raw path: URL would resolve "a/../b" to "b" behind the operator's back.
    const rawPath = /^s3:\/\/[^/?#]*([^?#]*)/.exec(value)?.[1] ?? '';
    prefix = decodeURIComponent(rawPath).replace(/^\/+|\/+$/g, '');
  } catch {
    return problem(`the prefix in "${value}" is not valid percent-encoding`);
  }
  if (prefix.split('/').some((segment) => segment === '' || segment === '.' || segment === '..') && prefix !== '') {
    return problem(`the prefix "${prefix}" must be slash-separated names without empty, "." or ".." segments`);
  }
  if (url.hash) return problem('the storage URL cannot have a #fragment');
  for (const key of new Set(url.searchParams.keys())) {
    if (!S3_PARAMETERS.includes(key)) return problem(`unknown parameter "${key}" (known: ${S3_PARAMETERS.join(', ')})`);
  }
  const endpoint = url.searchParams.get('endpoint') ?? undefined;
  if (endpoint !== undefined) {
    try {
      const e = new URL(endpoint);
      if (e.protocol !== 'http:' && e.protocol !== 'https:') return problem(`endpoint "${endpoint}" must be an http or https URL`);
      if (e.username || e.password) return problem('credentials do not belong in the endpoint URL; use the AWS SDK environment');
    } catch {
      return problem(`endpoint "${endpoint}" is not a URL (e.g. endpoint=https://nyc3.digitaloceanspaces.com)`);
    }
  }
  const region = url.searchParams.get('region') ?? 'us-east-1';
  if (!/^[a-z0-9-]{1,64}$/.test(region)) return problem(`region "${region}" is not a region name (e.g. us-east-1)`);
  const style = url.searchParams.get('force-path-style');
  if (style !== null && style !== 'true' && style !== 'false') return problem(`force-path-style must be true or false, not "${style}"`);
  // S3-compatible stores (radosgw, MinIO) need path-style addressing; AWS prefers virtual hosts.
  const forcePathStyle = style === null ? endpoint !== undefined : style === 'true';
  return { driver: 's3', bucket, prefix, endpoint, region, forcePathStyle };
}

function parseBoolean(value: string | boolean | undefined, label: string, problems: string[]): boolean {
  if (value === undefined || value === '' || value === false) return false;
  if (value === true || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  problems.push(`${label}: "${value}" must be true or false`);
  return false;
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
