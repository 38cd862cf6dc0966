import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildCli } from '../src/cli/index.js';
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

  it('has a CLI reference row for every server and operator command, naming each of its flags', () => {
    const section = readme.slice(readme.indexOf('## CLI reference'), readme.indexOf('\n## ', readme.indexOf('## CLI reference') + 1));
    const io = { stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), env: {}, uid: 0 };
    const { program } = buildCli(io);
    // The client commands have their own section ("Using the CLI", test/cli/readme.test.ts).
    const CLIENT = new Set(['auth', 'registry', 'registries', 'completion', 'help']);
    const leaves: { path: string; command: Command }[] = [];
    const visit = (cmd: Command, path: string[]) => {
      for (const sub of cmd.commands) {
        if (path.length === 0 && CLIENT.has(sub.name())) continue;
        if (sub.commands.length > 0) visit(sub, [...path, sub.name()]);
        else leaves.push({ path: [...path, sub.name()].join(' '), command: sub });
      }
    };
    visit(program, []);
    expect(leaves.map((l) => l.path)).toEqual(expect.arrayContaining(['serve', 'migrate', 'backup', 'restore', 'migrate-data']));
    for (const { path, command } of leaves) {
      const row = section.split('\n').find((line) => new RegExp(`^\\| \`berth ${path}( |\`)`).test(line));
      expect(row, `README row for berth ${path}`).toBeDefined();
      // serve's flags are the Configuration table; --data-dir and --database-url of the admin
      // commands are said once, under the table.
      if (path === 'serve') continue;
      for (const option of command.options) {
        if (path.startsWith('admin') && ['--data-dir', '--database-url'].includes(option.long!)) continue;
        expect(row, `berth ${path} ${option.long}`).toContain(option.long);
      }
    }
  });

  it('names the test command CI runs', () => {
    expect(readme).toContain('npm test');
    expect(readFileSync(new URL('../.ci/run', import.meta.url), 'utf8')).toContain('npm test');
  });
});
