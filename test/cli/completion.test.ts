/**
 * `berth completion bash|zsh`, loaded into the real shells: bash's completion function fills
 * COMPREPLY as it would when the user presses Tab; zsh sources the script with compinit and
 * registers `_berth`; the candidate function both shells share answers from the command tree
 * (commands, aliases followed to their command, flags, flag values, stored contexts).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runOk } from '../support/exec.js';
import { makeTempDir } from '../support/tmp.js';
import { requireTools } from '../support/tools.js';
import { berthIn, berthOk, childEnv, newMachine, type Machine } from './support.js';

const skip = requireTools(['bash', 'zsh']);

describe.skipIf(skip)('shell completion', { timeout: 60_000 }, () => {
  let m: Machine;
  let bashScript: string;
  let zshScript: string;
  let bin: string;

  beforeAll(async () => {
    m = await newMachine();
    const dir = await makeTempDir('completion');
    bashScript = join(dir, 'berth.bash');
    zshScript = join(dir, '_berth');
    await writeFile(bashScript, (await berthOk(m, ['completion', 'bash'])).stdout);
    await writeFile(zshScript, (await berthOk(m, ['completion', 'zsh'])).stdout);
    // `berth` on PATH for the completions that ask it (contexts).
    bin = join(dir, 'bin');
    await runOk('mkdir', ['-p', bin]);
    await writeFile(join(bin, 'berth'), `#!/bin/sh\nexec '${process.execPath}' '${new URL('../../dist/main.js', import.meta.url).pathname}' "$@"\n`, { mode: 0o755 });
    // A stored context, as `berth auth init --context staging` leaves it.
    await runOk('mkdir', ['-p', join(m.home, '.config', 'berth')]);
    await writeFile(m.configFile, `context: default\nauth-contexts:\n  staging:\n    api-url: http://127.0.0.1:8080\n    access-token: dop_v1_${'1'.repeat(64)}\n`);
  });

  /** What bash offers after `berth <words…>` with the cursor on the last word. */
  async function bash(line: string): Promise<string[]> {
    const words = line.split(' ');
    const script = `source '${bashScript}'\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})\nCOMP_CWORD=${words.length - 1}\n_berth\nprintf '%s\\n' "\${COMPREPLY[@]}"`;
    const result = await runOk('bash', ['--norc', '--noprofile', '-c', script], { env: { ...childEnv(m), PATH: `${bin}:${process.env.PATH}` } });
    return result.stdout.split('\n').filter(Boolean);
  }

  it('bash completes commands, follows aliases, and offers flags and their values', async () => {
    expect(await bash('berth reg')).toEqual(['registry', 'registries']);
    expect(await bash('berth registry ')).toEqual(expect.arrayContaining(['create', 'get', 'delete', 'login', 'logout', 'repository', 'garbage-collection', 'options', 'usage']));
    expect(await bash('berth registry ')).not.toContain('help');
    expect(await bash('berth r gc ')).toEqual(['start', 'get-active', 'list', 'cancel']);
    expect(await bash('berth registries repo list-t')).toEqual(['list-tags']);
    // Hidden commands are not offered.
    expect(await bash('berth registry repository ')).not.toContain('list');
    expect(await bash('berth registry gc start --')).toEqual(
      expect.arrayContaining(['--include-untagged-manifests', '--exclude-unreferenced-blobs', '--force', '--wait', '--format', '--no-header', '--output', '--access-token']),
    );
    expect(await bash('berth registry get -o ')).toEqual(['text', 'json']);
    expect(await bash('berth registries repository list-tags --sort-by s')).toEqual(['size']);
    expect(await bash('berth registry create x --subscription-tier ')).toEqual(['starter', 'basic', 'professional']);
    // A flag's value is not mistaken for a command.
    expect(await bash('berth registry --context staging g')).toEqual(['get', 'garbage-collection']);
    expect(await bash('berth completion ')).toEqual(['bash', 'zsh']);
  });

  it('bash completes --context with the stored contexts', async () => {
    expect(await bash('berth registry get --context ')).toEqual(['default', 'staging']);
  });

  it('zsh loads the script, registers _berth with compinit, and shares the candidates', async () => {
    const script = `autoload -Uz compinit && compinit -u -d '${zshScript}.dump'\nsource '${zshScript}'\nprint -r -- $_comps[berth]\n__berth_candidates 'li' berth registries repository\n`;
    const result = await runOk('zsh', ['-f', '-c', script], { env: { ...childEnv(m), PATH: `${bin}:${process.env.PATH}` } });
    const [registered, ...candidates] = result.stdout.trim().split('\n');
    expect(registered).toBe('_berth');
    expect(candidates).toEqual(['list-v2', 'list-tags', 'delete-tag', 'list-manifests', 'delete-manifest']);
    const flags = await runOk('zsh', ['-f', '-c', `source '${zshScript}'\n__berth_candidates '-o' berth registry get -o`], { env: childEnv(m) });
    expect(flags.stdout.trim().split('\n')).toEqual(['text', 'json']);
  });

  it('an unknown shell is an error', async () => {
    const fish = await berthIn(m, ['completion', 'fish']);
    expect(fish).toMatchObject({ code: 1, stdout: '', stderr: 'Error: unsupported shell "fish": use bash or zsh\n' });
    expect((await berthIn(m, ['completion'])).stderr).toBe('Error: (completion) command is missing required arguments\n');
  });
});
