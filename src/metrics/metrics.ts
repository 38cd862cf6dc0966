import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Request outcomes, bounded: status classes, or `aborted` when the client went away first. */
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'aborted';

export function statusClass(status: number): StatusClass {
  if (status >= 500) return '5xx';
  if (status >= 400) return '4xx';
  if (status >= 300) return '3xx';
  if (status >= 200) return '2xx';
  return '1xx';
}

/** The driver calls every blob store has (see storage/driver.ts), for series that start at zero. */
const STORAGE_OPERATIONS = ['stat', 'read', 'put', 'delete', 'list', 'sessions.append', 'sessions.finish', 'sessions.abort'];

const LONG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const SHORT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Every Prometheus metric Berth exports, in one registry per process (no global state, so
 * tests may run several instances side by side). Labels are bounded on purpose: operations,
 * status classes, listeners, statement kinds, and registry names (a team has at most ten),
 * never repository names, digests or users. docs/grafana/berth.json is built on these names;
 * test/ops/metrics.test.ts checks that each one it queries exists.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'berth_http_request_duration_seconds',
    help: 'HTTP request duration by listener, method and status',
    labelNames: ['listener', 'method', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });

  readonly registryRequests = new Counter({
    name: 'berth_registry_requests_total',
    help: 'Registry listener requests by operation (manifest_get, blob_get, upload_patch, …) and status class',
    labelNames: ['operation', 'status_class'] as const,
    registers: [this.registry],
  });

  readonly registryDuration = new Histogram({
    name: 'berth_registry_request_duration_seconds',
    help: 'Registry listener request duration by operation, including the body transfer',
    labelNames: ['operation'] as const,
    buckets: LONG_BUCKETS,
    registers: [this.registry],
  });

  readonly registryReceivedBytes = new Counter({
    name: 'berth_registry_received_bytes_total',
    help: 'Bytes received on the registry listener (request line, headers and body) by operation',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });

  readonly registrySentBytes = new Counter({
    name: 'berth_registry_sent_bytes_total',
    help: 'Bytes sent on the registry listener (status line, headers and body) by operation',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });

  readonly uploadsInFlight = new Gauge({
    name: 'berth_registry_uploads_in_flight',
    help: 'Requests on this node that are receiving blob bytes right now (upload POST, PATCH and PUT)',
    registers: [this.registry],
  });

  readonly uploadSessions = new Gauge({
    name: 'berth_upload_sessions',
    help: 'Upload sessions open in the database (all nodes), refreshed periodically',
    registers: [this.registry],
  });

  readonly storageDuration = new Histogram({
    name: 'berth_storage_operation_duration_seconds',
    help: 'Blob store call latency by driver call (stat, read, put, delete, list, sessions.append, sessions.finish, sessions.abort, …), whichever driver; read measures opening the stream',
    labelNames: ['operation'] as const,
    buckets: SHORT_BUCKETS,
    registers: [this.registry],
  });

  readonly storageErrors = new Counter({
    name: 'berth_storage_errors_total',
    help: 'Failed blob store calls by operation and reason (full, unavailable, error); a missing object is not an error',
    labelNames: ['operation', 'reason'] as const,
    registers: [this.registry],
  });

  readonly databaseDuration = new Histogram({
    name: 'berth_database_query_duration_seconds',
    help: 'Metadata database statement latency by kind (select, insert, update, delete, other)',
    labelNames: ['statement'] as const,
    buckets: SHORT_BUCKETS,
    registers: [this.registry],
  });

  readonly databaseErrors = new Counter({
    name: 'berth_database_errors_total',
    help: 'Failed metadata database statements by reason (unavailable, full, query)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly databaseRetries = new Counter({
    name: 'berth_database_retries_total',
    help: 'Reads retried after the database connection failed',
    registers: [this.registry],
  });

  readonly dependencyUp = new Gauge({
    name: 'berth_dependency_up',
    help: 'Whether the last health check reached the dependency (database, storage): 1 up, 0 down',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });

  readonly gcRuns = new Counter({
    name: 'berth_gc_runs_total',
    help: 'Garbage collection runs finished on this node, by final status (succeeded, failed, cancelled)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  readonly gcFreedBytes = new Counter({
    name: 'berth_gc_freed_bytes_total',
    help: 'Bytes removed from storage by garbage collection runs finished on this node',
    registers: [this.registry],
  });

  readonly gcBlobsDeleted = new Counter({
    name: 'berth_gc_blobs_deleted_total',
    help: 'Blobs removed from storage by garbage collection runs finished on this node',
    registers: [this.registry],
  });

  readonly registryStorageBytes = new Gauge({
    name: 'berth_registry_storage_bytes',
    help: 'Storage used per registry as the API reports it (distinct linked bytes), refreshed periodically',
    labelNames: ['registry'] as const,
    registers: [this.registry],
  });

  readonly blobStoreBytes = new Gauge({
    name: 'berth_blob_store_bytes',
    help: 'Bytes of every blob recorded in the database (all registries), refreshed periodically',
    registers: [this.registry],
  });

  readonly blobStoreBlobs = new Gauge({
    name: 'berth_blob_store_blobs',
    help: 'Blobs recorded in the database (all registries), refreshed periodically',
    registers: [this.registry],
  });

  readonly rateLimitRefusals = new Counter({
    name: 'berth_rate_limit_refusals_total',
    help: 'Requests refused with 429 Too Many Requests, by listener',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'berth_auth_failures_total',
    help: 'Requests whose credentials were refused (reason invalid_credentials, 401 with credentials sent) or were not enough (insufficient_scope, 403), by listener',
    labelNames: ['listener', 'reason'] as const,
    registers: [this.registry],
  });

  constructor(version = 'unknown') {
    collectDefaultMetrics({ register: this.registry, prefix: 'berth_' });
    // Series that are zero until something goes wrong exist from the start, so dashboards and
    // alerts (rate(), absent()) see 0 rather than nothing.
    for (const reason of ['unavailable', 'full', 'query']) this.databaseErrors.inc({ reason }, 0);
    for (const operation of STORAGE_OPERATIONS) {
      for (const reason of ['full', 'unavailable', 'error']) this.storageErrors.inc({ operation, reason }, 0);
    }
    for (const listener of ['api', 'registry']) {
      this.rateLimitRefusals.inc({ listener }, 0);
      for (const reason of ['invalid_credentials', 'insufficient_scope']) this.authFailures.inc({ listener, reason }, 0);
    }
    for (const status of ['succeeded', 'failed', 'cancelled']) this.gcRuns.inc({ status }, 0);
    new Gauge({ name: 'berth_build_info', help: 'Berth version', labelNames: ['version'] as const, registers: [this.registry] }).set({ version }, 1);
  }
}
