import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../src/config/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('documents every setting with its flag, variable and default', () => {
    for (const s of SETTINGS) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${s.flag}\``));
      expect(row, s.flag).toBeDefined();
      expect(row).toContain(s.env);
    }
  });

  it('names the test command CI runs', () => {
    expect(readme).toContain('npm test');
    expect(readFileSync(new URL('../.ci/run', import.meta.url), 'utf8')).toContain('npm test');
  });
});
