import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { bootstrap } from '../bootstrap.js';
import { loadConfig, type Config, type ServeFlags } from '../config/index.js';
import { checkStorage, createContext } from '../context.js';
import { createLogger } from '../logging.js';
import { createApiServer } from '../http/api/server.js';
import { createMetricsServer } from '../http/metrics-server.js';
import { createRegistryServer } from '../http/oci/server.js';
import { startGcWorker } from '../jobs/gc-worker.js';
import { startLayerSizeJob } from '../jobs/layer-sizes.js';
import { startStorageGauges } from '../jobs/storage-gauges.js';
import { startUploadExpiry } from '../jobs/upload-expiry.js';
import { readTlsMaterial, reloadCertificates } from '../http/tls.js';
import { formatMode, restrictFiles, restrictTree } from '../storage/index.js';

/** `berth serve`: config → context → listeners; SIGTERM/SIGINT drain and exit 0. */
export async function serve(flags: ServeFlags): Promise<void> {
  const config = loadConfig(flags);
  // Unreadable or mismatched TLS files stop the start before anything else happens.
  if (config.tls) readTlsMaterial(config.tls);
  const logger = createLogger(config);
  await tightenPermissions(config, logger);
  const ctx = await createContext(config, { logger });
  try {
    await checkStorage(ctx);
  } catch (err) {
    await ctx.close();
    throw err;
  }
  const { printedToken } = await bootstrap(ctx);
  if (printedToken) {
    console.log(`Created team "default" with a full-access API token (shown once, store it now):\n${printedToken}`);
  }
  const servers: FastifyInstance[] = [];
  // Background work runs on every node; leases and idempotent passes make that safe.
  const gcWorker = startGcWorker(ctx);
  const layerSizes = startLayerSizeJob(ctx);
  ctx.manifests.onPushed = () => layerSizes.kick();
  if (config.role !== 'registry') {
    const api = createApiServer(ctx, { gcChanged: () => gcWorker.kick() });
    await api.listen({ host: config.apiListen.host, port: config.apiListen.port });
    servers.push(api);
  }
  if (config.role !== 'api') {
    const registry = createRegistryServer(ctx);
    await registry.listen({ host: config.registryListen.host, port: config.registryListen.port });
    servers.push(registry);
  }
  const storageGauges = startStorageGauges(ctx);
  // Kept apart from `servers`: it has no draining of its own and answers scrapes until the end.
  const metricsServer = config.metricsListen ? createMetricsServer(ctx, { beforeScrape: () => storageGauges.refreshIfStale(5_000, 1_000) }) : undefined;
  if (metricsServer && config.metricsListen) await metricsServer.listen({ host: config.metricsListen.host, port: config.metricsListen.port });
  const expiry = startUploadExpiry(ctx);
  // Other nodes' pushes change usage too; a periodic full refresh catches them.
  const usageTimer = setInterval(() => void ctx.usage.flush(true), 60_000);
  usageTimer.unref();
  if (/^(0\.0\.0\.0|\[?::\]?)(:|$)/.test(config.registryHost)) {
    ctx.logger.warn({ registryHost: config.registryHost }, 'set --registry-host to the name clients use: it is the token realm, the JWT audience and the host in config.json');
  }
  ctx.logger.info(
    {
      tls: config.tls !== undefined,
      api: config.role !== 'registry' ? config.apiListen : undefined,
      registry: config.role !== 'api' ? config.registryListen : undefined,
      metrics: config.metricsListen,
      registryHost: config.registryHost,
      database: config.database.dialect,
      storage: config.storage.driver,
    },
    'berth is serving',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    ctx.logger.info({ signal }, 'draining in-flight requests');
    for (const s of servers) s.startDraining();
    await Promise.all(servers.map((s) => s.close()));
    await metricsServer?.close();
    clearInterval(usageTimer);
    await Promise.all([expiry.stop(), gcWorker.stop(), layerSizes.stop(), storageGauges.stop()]);
    await ctx.close();
    ctx.logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // SIGHUP reloads the TLS certificate (e.g. after certbot renewed it) without a restart.
  process.on('SIGHUP', () => reloadCertificates(config, servers, ctx.logger));
}

/**
 * Data written by an older version (or copied in) may be readable by other users: the SQLite
 * database holds the token service's private key. Before anything opens it, take group and
 * other access away from the data directory, the blob store and the database files, and say
 * what changed.
 */
async function tightenPermissions(config: Readonly<Config>, logger: Logger): Promise<void> {
  const changes = [...(await restrictFiles([config.dataDir]))];
  if (config.storage.driver === 'filesystem') changes.push(...(await restrictTree(config.storage.root)));
  if (config.database.dialect === 'sqlite' && config.database.file !== ':memory:') {
    const file = config.database.file;
    changes.push(...(await restrictFiles([file, `${file}-wal`, `${file}-shm`])));
  }
  const unique = [...new Map(changes.map((c) => [c.path, c])).values()];
  if (unique.length === 0) return;
  const shown = unique.slice(0, 20).map((c) => `${c.path} ${formatMode(c.from)}→${formatMode(c.to)}`);
  logger.warn(
    { changed: unique.length, paths: shown, more: Math.max(0, unique.length - shown.length) },
    `made ${unique.length} existing data path${unique.length === 1 ? '' : 's'} owner-only (group and other access removed): ${shown.slice(0, 3).join(', ')}${unique.length > 3 ? ', …' : ''}`,
  );
}
