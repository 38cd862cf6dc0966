import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../config/index.js';
import { createContext } from '../../context.js';
import { createApiServer } from './server.js';

/** Where the generated description says the API lives; clients set their own base URL. */
export const OPENAPI_PLACEHOLDER_URL = 'http://127.0.0.1:8080';

/**
 * The OpenAPI document of the API listener, built from the route schemas without listening
 * or touching a real database: what `GET /openapi.json` serves, with a placeholder server URL.
 * The typed API client (`src/api-client/schema.ts`) is generated from it.
 */
export async function buildOpenApiDocument(): Promise<Record<string, unknown>> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'berth-openapi-'));
  try {
    const config = loadConfig({ dataDir, databaseUrl: 'sqlite::memory:', apiUrl: OPENAPI_PLACEHOLDER_URL, logLevel: 'silent' }, {});
    const ctx = await createContext(config);
    try {
      const app = createApiServer(ctx);
      await app.ready();
      const document = app.swagger() as unknown as Record<string, unknown>;
      await app.close();
      return document;
    } finally {
      await ctx.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
