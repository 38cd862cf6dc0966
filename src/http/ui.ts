/**
 * Serves the web console's built assets (web/ → dist/console by `npm run build`) on the API
 * listener. The console is a client of the public API like doctl: this module only hands out
 * files. They are read once at start (a few hundred KB), so a request never touches the disk
 * and no path from a request ever reaches the filesystem.
 *
 *   /assets/<name>-<hash>.<ext>   content-hashed by the build: cached for a year, immutable
 *   /<file> (favicon…)            revalidated on every use (ETag)
 *   /, /sign-in, /registries…     the client's routes: index.html, never cached
 *
 * Nothing here shadows the API: /v1/…, /v2/…, /healthz, /readyz, /livez and /openapi.json are
 * not console routes (/metrics is served on --metrics-listen only).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where `npm run build` puts the console: `<package root>/dist/console`, from src/http or dist/http alike. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

/** The client-side routes (web/src/routes.ts); each answers with index.html. */
export const CONSOLE_ROUTES = ['/', '/sign-in', '/subscription', '/create-registry', '/registries', '/registries/*'] as const;

/**
 * No inline script or style anywhere (the build emits none, the markup has no style=""), no
 * framing, no plugins, requests only to this origin, and Trusted Types so no string ever
 * becomes markup or script.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.webmanifest', '.txt']);

interface Variant {
  body: Buffer;
  etag: string;
}

interface Asset {
  type: string;
  cacheControl: string;
  identity: Variant;
  br?: Variant;
  gzip?: Variant;
}

function etagOf(bytes: Buffer, suffix = ''): string {
  return `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}${suffix}"`;
}

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full, `${prefix}${name}/`) : [`${prefix}${name}`];
  });
}

/** Every built file, keyed by its URL path without the leading slash. */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const file of filesUnder(dir)) {
    const ext = path.extname(file).toLowerCase();
    const type = CONTENT_TYPES[ext];
    if (!type) continue; // source maps and anything unexpected stay private
    const body = readFileSync(path.join(dir, file));
    const cacheControl = file === 'index.html' ? 'no-store' : file.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    const asset: Asset = { type, cacheControl, identity: { body, etag: etagOf(body) } };
    if (COMPRESSIBLE.has(ext) && body.length > 1024) {
      const br = brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length } });
      const gzip = gzipSync(body, { level: 9 });
      if (br.length < body.length) asset.br = { body: br, etag: etagOf(body, '-br') };
      if (gzip.length < body.length) asset.gzip = { body: gzip, etag: etagOf(body, '-gz') };
    }
    assets.set(file, asset);
  }
  return assets;
}

function accepts(req: FastifyRequest, coding: string): boolean {
  const header = req.headers['accept-encoding'];
  if (typeof header !== 'string') return false;
  return header.split(',').some((part) => {
    const [name, ...params] = part.trim().split(';');
    return name?.trim().toLowerCase() === coding && !params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p));
  });
}

function send(req: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  const variant = (accepts(req, 'br') && asset.br) || (accepts(req, 'gzip') && asset.gzip) || asset.identity;
  reply.headers(SECURITY_HEADERS);
  reply.header('content-type', asset.type);
  reply.header('cache-control', asset.cacheControl);
  reply.header('etag', variant.etag);
  if (asset.br || asset.gzip) reply.header('vary', 'accept-encoding');
  if (variant !== asset.identity) reply.header('content-encoding', variant === asset.br ? 'br' : 'gzip');
  const match = req.headers['if-none-match'];
  if (asset.cacheControl !== 'no-store' && typeof match === 'string' && match.split(',').some((t) => t.trim().replace(/^W\//, '') === variant.etag)) {
    return reply.status(304).send();
  }
  return reply.status(200).send(req.method === 'HEAD' ? undefined : variant.body);
}

/**
 * Mounts the console on the API listener. Without built assets (only `tsc` was run) it logs
 * a warning and mounts nothing: the API works the same either way.
 */
export function registerConsole(app: FastifyInstance, logger: FastifyBaseLogger, dir: string = CONSOLE_DIR): void {
  if (!existsSync(path.join(dir, 'index.html'))) {
    logger.warn({ dir }, 'web console assets not found (run `npm run build`); serving the API without the console');
    return;
  }
  const assets = loadAssets(dir);
  const index = assets.get('index.html')!;
  const methods = ['GET', 'HEAD'] as const;
  // Hidden from /openapi.json; not API calls, so not rate-limited (src/http/api/rate-limit.ts).
  const hide = { schema: { hide: true }, config: { unlimited: true } };

  for (const url of CONSOLE_ROUTES) {
    app.route({ method: [...methods], url, ...hide, handler: async (req, reply) => send(req, reply, index) });
  }
  app.route({
    method: [...methods],
    url: '/assets/*',
    ...hide,
    handler: async (req, reply) => {
      const asset = assets.get(`assets/${(req.params as { '*': string })['*']}`);
      return asset ? send(req, reply, asset) : reply.callNotFound();
    },
  });
  // Root-level files from web/public (favicon…), each its own route.
  for (const [file, asset] of assets) {
    if (file === 'index.html' || file.includes('/')) continue;
    app.route({ method: [...methods], url: `/${file}`, ...hide, handler: async (req, reply) => send(req, reply, asset) });
  }
}
