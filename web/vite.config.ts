/**
 * The web console's own build: `npm run build` runs it after tsc, into dist/console, which
 * src/http/ui.ts serves and `files` ships. `npx vite --config web/vite.config.ts` serves it
 * for development, proxying the API to a Berth on 127.0.0.1:8080.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** The API the development server proxies to (`npx berth serve` on its defaults). */
const api = 'http://127.0.0.1:8080';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: 'public',
  // Preact's automatic JSX runtime.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // Everything as files: the content security policy allows no data: URLs and no inline code.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] },
    proxy: { '/v2': api, '/v1': api },
  },
});
