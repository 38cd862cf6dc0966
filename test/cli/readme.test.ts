/**
 * The README's "Using the CLI" tables against the command tree `berth` really builds: every
 * client command, its arguments, aliases, flags and hiddenness, the doctl command it mirrors,
 * and the global flags with their environment variables. A command added without its row, or a
 * row that lies, fails here.
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { GLOBAL_FLAGS } from '../../src/cli/client/command.js';
import { buildCli } from '../../src/cli/index.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## Using the CLI'), readme.indexOf('\n## ', readme.indexOf('## Using the CLI') + 1));

interface Row {
  path: string;
  args: string;
  hidden: boolean;
  aliases: string[];
  flags: string[];
  doctl: string;
}

const backticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

function readmeRows(): Row[] {
  const table = section.slice(section.indexOf('### The command tree'));
  return table
    .split('\n')
    .filter((line) => line.startsWith('| `berth '))
    .map((line) => {
      const [command, aliases, flags, doctl] = line.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
      const words = backticked(command!)[0]!.split(' ').slice(1);
      const firstArg = words.findIndex((w) => /^[<[-]/.test(w));
      return {
        path: (firstArg < 0 ? words : words.slice(0, firstArg)).join(' '),
        args: firstArg < 0 ? '' : words.slice(firstArg).join(' '),
        hidden: command!.includes('(hidden)'),
        aliases: backticked(aliases!),
        flags: backticked(flags!).flatMap((f) => f.split(', ')).sort(),
        doctl: doctl === '—' ? '—' : backticked(doctl!)[0]!,
      };
    });
}

function treeRows(): Row[] {
  const io = { stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), env: {}, uid: 0 };
  const { program } = buildCli(io);
  const globals = new Set(GLOBAL_FLAGS.map((f) => `--${f.name}`));
  const rows: Row[] = [];
  const visit = (cmd: Command, path: string[]) => {
    for (const sub of cmd.commands) {
      const here = [...path, sub.name()];
      if (sub.name() === 'help' || !['auth', 'registry', 'registries', 'completion'].includes(here[0]!)) continue;
      const flags = sub.options.filter((o) => !o.hidden && !globals.has(o.long ?? '')).flatMap((o) => [o.short, o.long].filter((n): n is string => Boolean(n)));
      rows.push({
        path: here.join(' '),
        args: sub.commands.length > 0 ? '' : sub.usage().replace(/\s*\[flags\]$/, ''),
        hidden: (sub as unknown as { _hidden: boolean })._hidden,
        aliases: sub.aliases(),
        flags: flags.sort(),
        doctl: '',
      });
      visit(sub, here);
    }
  };
  visit(program, []);
  return rows;
}

/** Commands doctl does not have. */
const BERTH_ONLY = ['registry usage', 'registries usage', 'registry subscription', 'registry subscription get', 'registry subscription update', 'registries subscription', 'registries subscription get', 'registries subscription update'];

describe('README "Using the CLI"', () => {
  const documented = readmeRows();
  const built = treeRows();

  it('has one row per command, in the order `berth --help` lists them', () => {
    expect(documented.map((r) => r.path)).toEqual(built.map((r) => r.path));
  });

  it.each(treeRows().map((r) => [r.path, r] as const))('`berth %s`: arguments, aliases, flags and hiddenness match', (path, actual) => {
    const row = documented.find((r) => r.path === path);
    expect(row, `no README row for berth ${path}`).toBeDefined();
    expect(row!.args).toBe(actual.args);
    expect(row!.aliases).toEqual(actual.aliases);
    expect(row!.flags).toEqual(actual.flags);
    expect(row!.hidden).toBe(actual.hidden);
  });

  it('names the doctl command each mirrors, and "—" exactly for Berth\'s own', () => {
    for (const row of documented) {
      if (BERTH_ONLY.includes(row.path)) expect(row.doctl, row.path).toBe('—');
      else expect(row.doctl, row.path).toBe(`doctl ${row.path}`);
    }
  });

  it('documents every global flag, and the environment variable of those that have one', () => {
    for (const flag of GLOBAL_FLAGS.filter((f) => !f.hidden)) {
      const names = `${flag.short ? `-${flag.short}, ` : ''}--${flag.name}`;
      const line = section.split('\n').find((l) => l.startsWith(`| \`${names}\``));
      expect(line, names).toBeDefined();
      const env = /\(env (\w+)/.exec(flag.description)?.[1];
      if (env) expect(line).toContain(`\`${env}\``);
    }
  });
});
