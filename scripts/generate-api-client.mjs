#!/usr/bin/env node
// Regenerates src/api-client/schema.ts from the API listener's OpenAPI document.
// Run after changing a route schema: npm run build && npm run generate:api-client
import { writeFile } from 'node:fs/promises';
import { buildOpenApiDocument } from '../dist/http/api/openapi-document.js';
import { renderSchemaModule } from './lib/api-client-schema.mjs';

const target = new URL('../src/api-client/schema.ts', import.meta.url);
await writeFile(target, await renderSchemaModule(await buildOpenApiDocument()));
console.log(`wrote ${target.pathname}`);
