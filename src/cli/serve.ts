import type { FastifyInstance } from 'fastify';
import { bootstrap } from '../bootstrap.js';
import { loadConfig, type ServeFlags } from '../config/index.js';
import { createContext } from '../context.js';
import { createApiServer } from '../http/api/server.js';
import { createMetricsServer } from '../http/metrics-server.js';
import { createRegistryServer } from '../http/oci/server.js';
import { startGcWorker } from '../jobs/gc-worker.js';
import { startLayerSizeJob } from '../jobs/layer-sizes.js';
import { startStorageGauges } from '../jobs/storage-gauges.js';
import { startUploadExpiry } from '../jobs/upload-expiry.js';

/** `berth serve`: config → context → listeners; SIGTERM/SIGINT drain and exit 0. */
export async function serve(flags: ServeFlags): Promise<void> {
  const config = loadConfig(flags);
  const ctx = await createContext(config);
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
  ctx.logger.info(
    { api: config.role !== 'registry' ? config.apiListen : undefined, registry: config.role !== 'api' ? config.registryListen : undefined, metrics: config.metricsListen, registryHost: config.registryHost, database: config.database.dialect, storage: config.storage.driver },
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
}
