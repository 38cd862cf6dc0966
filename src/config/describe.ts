import type { DatabaseConfig, StorageConfig } from './schema.js';

/** A database URL fit for messages and logs: the password never appears. */
export function describeDatabase(config: DatabaseConfig): string {
  if (config.dialect === 'sqlite') return `sqlite:${config.file}`;
  try {
    const url = new URL(config.url);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'postgres://…';
  }
}

/** A storage URL fit for messages, and one `--storage-url` accepts back (endpoint and region kept). */
export function describeStorage(config: StorageConfig): string {
  if (config.driver === 'filesystem') return `file:${config.root}`;
  const query = new URLSearchParams();
  if (config.endpoint) query.set('endpoint', config.endpoint);
  query.set('region', config.region);
  if (config.forcePathStyle !== (config.endpoint !== undefined)) query.set('force-path-style', String(config.forcePathStyle));
  return `s3://${config.bucket}/${config.prefix}?${query.toString()}`;
}
