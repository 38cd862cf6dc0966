import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { statusClass, type Metrics } from '../metrics/index.js';
import { matchOciRoute } from './oci/paths.js';

/** Wire bytes a socket had read and written when its previous request ended (keep-alive). */
const socketBaseline = new WeakMap<Socket, { read: number; written: number }>();

const UPLOAD_OPERATIONS = new Set(['upload_start', 'upload_patch', 'upload_finish', 'blob_upload_monolithic']);

/**
 * The registry operation a request performs, from its method and path: a small fixed set of
 * names (never the repository), so label cardinality stays bounded.
 */
export function registryOperation(method: string, url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path === '/v2/' || path === '/v2') return 'base';
  if (path === '/v2/_catalog') return 'catalog';
  if (path === '/auth/token') return 'token';
  if (path === '/healthz' || path === '/readyz' || path === '/livez') return 'health';
  const route = matchOciRoute(path);
  if (!route) return 'other';
  const verb = method.toLowerCase();
  switch (route.kind) {
    case 'manifest':
      return ['get', 'head', 'put', 'delete'].includes(verb) ? `manifest_${verb}` : 'other';
    case 'blob':
      return ['get', 'head', 'delete'].includes(verb) ? `blob_${verb}` : 'other';
    case 'uploads': {
      const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
      if (query.has('mount')) return 'blob_mount';
      return query.has('digest') ? 'blob_upload_monolithic' : 'upload_start';
    }
    case 'upload':
      return ({ GET: 'upload_status', PATCH: 'upload_patch', PUT: 'upload_finish', DELETE: 'upload_cancel' } as Record<string, string>)[method] ?? 'other';
    case 'tags':
      return 'tags_list';
    case 'referrers':
      return 'referrers_list';
  }
}

/**
 * Request metrics for one listener: durations for both; for the registry listener also
 * requests, wire bytes and duration per operation and uploads in flight; refusals (429) and
 * auth failures (401 with credentials sent, 403) for both. Everything is accounted when the
 * response closes, so a client that hangs up mid-transfer is counted too (`aborted`).
 */
export function instrumentHttp(app: FastifyInstance, listener: 'api' | 'registry', metrics: Metrics): void {
  app.addHook('onRequest', async (req, reply) => {
    const operation = listener === 'registry' ? registryOperation(req.method, req.url) : undefined;
    const uploading = operation !== undefined && UPLOAD_OPERATIONS.has(operation);
    if (uploading) metrics.uploadsInFlight.inc();
    const socket = req.raw.socket;
    const baseline = socketBaseline.get(socket) ?? { read: 0, written: 0 };
    const started = process.hrtime.bigint();
    reply.raw.once('close', () => {
      if (uploading) metrics.uploadsInFlight.dec();
      const outcome = reply.raw.writableFinished ? statusClass(reply.statusCode) : 'aborted';
      countRefusals(metrics, listener, req, reply.statusCode, outcome);
      if (operation === undefined) return;
      const read = socket.bytesRead;
      const written = socket.bytesWritten;
      socketBaseline.set(socket, { read, written });
      metrics.registryRequests.inc({ operation, status_class: outcome });
      metrics.registryDuration.observe({ operation }, Number(process.hrtime.bigint() - started) / 1e9);
      metrics.registryReceivedBytes.inc({ operation }, Math.max(0, read - baseline.read));
      metrics.registrySentBytes.inc({ operation }, Math.max(0, written - baseline.written));
    });
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.httpDuration.observe({ listener, method: req.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
}

function countRefusals(metrics: Metrics, listener: string, req: FastifyRequest, status: number, outcome: string): void {
  if (outcome === 'aborted') return;
  if (status === 429) metrics.rateLimitRefusals.inc({ listener });
  // A 401 without credentials is the normal first step of the token dance, not a failure.
  else if (status === 401 && req.headers.authorization !== undefined) metrics.authFailures.inc({ listener, reason: 'invalid_credentials' });
  else if (status === 403) metrics.authFailures.inc({ listener, reason: 'insufficient_scope' });
}
