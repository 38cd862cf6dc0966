import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { testDatabaseUrl } from './support/database.js';
import { MAIN_JS } from './support/server.js';

const run = promisify(execFile);

describe('migrations', () => {
  it('are safe when several processes start at once on an empty database', async () => {
    const url = await testDatabaseUrl();
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => run(process.execPath, [MAIN_JS, 'migrate', '--database-url', url])));
    for (const r of results) {
      expect(r.status, r.status === 'rejected' ? String((r as PromiseRejectedResult).reason) : '').toBe('fulfilled');
      if (r.status === 'fulfilled') expect(r.value.stdout).toContain('schema is up to date');
    }
    const again = await run(process.execPath, [MAIN_JS, 'migrate', '--database-url', url]);
    expect(again.stdout).toContain('schema is up to date');
  });
});
