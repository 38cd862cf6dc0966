import type { FastifyInstance } from 'fastify';
import { bootstrap } from '../bootstrap.js';
import { loadConfig, type ServeFlags } from '../config/index.js';
import { createContext } from '../context.js';
import { createApiServer } from '../http/api/server.js';
import { Metrics } from '../http/metrics.js';
import { createRegistryServer } from '../http/oci/server.js';
import { startUploadExpiry } from '../jobs/upload-expiry.js';

/** `berth serve`: config → context → listeners; SIGTERM/SIGINT drain and exit 0. */
export async function serve(flags: ServeFlags): Promise<void> {
  const config = loadConfig(flags);
  const ctx = await createContext(config);
  const { printedToken } = await bootstrap(ctx);
  if (printedToken) {
    console.log(`Created team "default" with a full-access API token (shown once, store it now):\n${printedToken}`);
  }
  const metrics = new Metrics();
  const servers: FastifyInstance[] = [];
  if (config.role !== 'registry') {
    const api = createApiServer(ctx, metrics);
    metrics.instrument(api, 'api');
    await api.listen({ host: config.apiListen.host, port: config.apiListen.port });
    servers.push(api);
  }
  if (config.role !== 'api') {
    const registry = createRegistryServer(ctx);
    metrics.instrument(registry, 'registry');
    await registry.listen({ host: config.registryListen.host, port: config.registryListen.port });
    servers.push(registry);
  }
  const expiry = startUploadExpiry(ctx);
  ctx.logger.info(
    { api: config.role !== 'registry' ? config.apiListen : undefined, registry: config.role !== 'api' ? config.registryListen : undefined, registryHost: config.registryHost, database: config.database.dialect, storage: config.storage.driver },
    'berth is serving',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    ctx.logger.info({ signal }, 'draining in-flight requests');
    await Promise.all(servers.map((s) => s.close()));
    await expiry.stop();
    await ctx.close();
    ctx.logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
