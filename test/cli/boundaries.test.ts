/**
 * The client's place in the layout (DESIGN.md): it reaches Berth only over HTTP, through the
 * one typed API client, and imports none of the server's modules (db, registry services…); the
 * API client itself stays browser-safe for the web console.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [join(dir, entry.name)] : [],
  );
}

function imports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)].map((m) => m[1]!);
}

describe('module boundaries', () => {
  it('src/cli/client imports only itself, the API client, node: modules, commander and yaml', () => {
    const client = join(SRC, 'cli', 'client');
    const outside: string[] = [];
    for (const file of sources(client)) {
      for (const spec of imports(file)) {
        if (spec.startsWith('node:') || spec === 'commander' || spec === 'yaml') continue;
        const target = resolve(file, '..', spec);
        if (target.startsWith(client) || target.startsWith(join(SRC, 'api-client'))) continue;
        outside.push(`${relative(SRC, file)} → ${spec}`);
      }
    }
    expect(outside).toEqual([]);
  });

  it('src/api-client imports nothing from Node', () => {
    const nodeImports = sources(join(SRC, 'api-client')).flatMap((file) => imports(file).filter((s) => s.startsWith('node:') || !s.startsWith('.') && s !== 'openapi-fetch'));
    expect(nodeImports).toEqual([]);
  });
});
