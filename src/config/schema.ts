import { z } from 'zod';

export const listenAddress = z.object({ host: z.string(), port: z.number().int().min(0).max(65535) });

export const databaseConfig = z.discriminatedUnion('dialect', [
  z.object({ dialect: z.literal('sqlite'), file: z.string() }),
  z.object({ dialect: z.literal('postgres'), url: z.string() }),
]);

export const storageConfig = z.discriminatedUnion('driver', [
  z.object({ driver: z.literal('filesystem'), root: z.string() }),
  z.object({
    driver: z.literal('s3'),
    bucket: z.string(),
    prefix: z.string(),
    endpoint: z.string().optional(),
    region: z.string(),
    forcePathStyle: z.boolean(),
  }),
]);

export const configSchema = z.object({
  dataDir: z.string(),
  role: z.enum(['all', 'api', 'registry']),
  apiListen: listenAddress,
  registryListen: listenAddress,
  /** Public `host[:port]` of the registry, as it appears in image references and config.json. */
  registryHost: z.string(),
  /** Public base URL of the API, used for absolute pagination links. */
  apiUrl: z.string(),
  database: databaseConfig,
  storage: storageConfig,
  /** Answer blob GETs with a redirect to a presigned storage URL (S3) instead of the bytes. */
  storageRedirect: z.boolean(),
  bootstrapToken: z.string().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  /** Lifetime of read-only registry JWTs. */
  tokenTtlSeconds: z.number().int().positive(),
  /** Upper bound on the lifetime of write-scoped registry JWTs. */
  writeTokenTtlSeconds: z.number().int().positive(),
  /** Upload sessions idle for longer than this are removed. */
  uploadTtlSeconds: z.number().int().positive(),
  maxManifestBytes: z.number().int().positive(),
  /** Regions offered by the API; the first is the default. */
  regions: z.array(z.string()).min(1),
  /** Per-tier overrides of the reference's numbers. */
  tierOverrides: z.record(z.string(), z.record(z.string(), z.union([z.number(), z.boolean(), z.string()]))),
  rateLimitPerHour: z.number().int().positive(),
  rateLimitPerMinute: z.number().int().positive(),
  /** Upload sessions a team may have open at once; 0 for no cap. */
  maxUploadSessions: z.number().int().min(0),
  gcGraceSeconds: z.number().int().positive(),
  gcMode: z.enum(['online', 'read-only']),
  /** PEM files for HTTPS on both listeners; plain HTTP when absent. */
  tls: z.object({ certFile: z.string(), keyFile: z.string() }).optional(),
  /** Proxies (addresses, CIDRs, named ranges) whose X-Forwarded-* headers are believed. */
  trustProxy: z.array(z.string()),
  /** A connection making no progress for this long is closed (nginx's client_body_timeout). */
  bodyTimeoutSeconds: z.number().int().positive(),
  /** Time allowed for the request line and headers (nginx's client_header_timeout). */
  headerTimeoutSeconds: z.number().int().positive(),
  /** Open connections per listener. */
  maxConnections: z.number().int().positive(),
  /** Scopes one token request may ask for. */
  maxTokenScopes: z.number().int().positive(),
  /** Serve the web console's built assets at / on the API listener. */
  ui: z.boolean(),
  /** Where Prometheus scrapes /metrics; undefined when the listener is off (the default). */
  metricsListen: listenAddress.optional(),
  logFormat: z.enum(['json', 'pretty', 'auto']),
});

export type Config = z.infer<typeof configSchema>;
export type DatabaseConfig = z.infer<typeof databaseConfig>;
export type StorageConfig = z.infer<typeof storageConfig>;
export type ListenAddress = z.infer<typeof listenAddress>;
