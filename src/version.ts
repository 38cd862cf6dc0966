import { readFileSync } from 'node:fs';

/** This Berth's version, from its package.json (next to dist/ in an installed package). */
export const BERTH_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();
