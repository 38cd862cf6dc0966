/**
 * The questions `berth` asks, answered on a real terminal as a person would: the binary runs in
 * a tmux pane (a pseudo-terminal, so stdin, stdout and stderr are TTYs and the client is
 * interactive by default), keys go in with `send-keys`, and the screen is read back with
 * `capture-pane`. Each test has its own tmux server (`-L`), stopped at the end.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startHarness, type Harness } from '../harness.js';
import { run, runOk } from '../support/exec.js';
import { MAIN_JS } from '../support/server.js';
import { makeTempDir } from '../support/tmp.js';
import { requireTools } from '../support/tools.js';
import { childEnv, newMachine, type Machine } from './support.js';

const skip = requireTools(['tmux']);

/** A command running in its own tmux server, and what a person does with it. */
class Terminal {
  private constructor(private readonly socket: string) {}

  static async start(m: Machine, args: string[]): Promise<Terminal> {
    const socket = `berth-test-${randomBytes(6).toString('hex')}`;
    const script = join(await makeTempDir('tty'), 'run.sh');
    const env = childEnv(m);
    const exports = Object.entries(env)
      .filter(([key]) => /^[A-Z_][A-Z0-9_]*$/.test(key))
      .map(([key, value]) => `export ${key}='${String(value).replaceAll("'", "'\\''")}'`);
    const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    // The marker line tells the test the command ended and how; the pane stays for reading.
    await writeFile(script, `${exports.join('\n')}\nexport TERM=xterm\n'${process.execPath}' '${MAIN_JS}' ${quoted}\necho "[exit $?]"\nsleep 600\n`);
    await runOk('tmux', ['-L', socket, '-f', '/dev/null', 'new-session', '-d', '-s', 'berth', '-x', '220', '-y', '50', `sh ${script}`]);
    return new Terminal(socket);
  }

  async screen(): Promise<string> {
    return (await runOk('tmux', ['-L', this.socket, 'capture-pane', '-p', '-t', 'berth', '-S', '-100'])).stdout;
  }

  /** Waits until the screen shows `text` (or fails, showing the screen). */
  async waitFor(text: string | RegExp, ms = 15_000): Promise<string> {
    const deadline = Date.now() + ms;
    // capture-pane drops the spaces at the end of a line, like the one after a question.
    const wanted = typeof text === 'string' ? text.trimEnd() : text;
    for (;;) {
      const screen = await this.screen();
      if (typeof wanted === 'string' ? screen.includes(wanted) : wanted.test(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`the terminal never showed ${String(text)}:\n${screen}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Types text literally, then optionally presses keys (Enter, BSpace…). */
  async type(text: string, ...keys: string[]): Promise<void> {
    if (text) await runOk('tmux', ['-L', this.socket, 'send-keys', '-t', 'berth', '-l', text]);
    if (keys.length > 0) await runOk('tmux', ['-L', this.socket, 'send-keys', '-t', 'berth', ...keys]);
  }

  async exitStatus(): Promise<number> {
    const screen = await this.waitFor(/\[exit \d+\]/);
    return Number(/\[exit (\d+)\]/.exec(screen)![1]);
  }

  async close(): Promise<void> {
    await run('tmux', ['-L', this.socket, 'kill-server']);
    // The server leaves its socket file behind: /tmp/tmux-<uid>/<name> (or under $TMUX_TMPDIR).
    await rm(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`, this.socket), { force: true });
  }
}

describe.skipIf(skip)('prompts on a terminal', { timeout: 90_000 }, () => {
  let h: Harness;
  const terminals: Terminal[] = [];
  const open = async (m: Machine, args: string[]) => {
    const t = await Terminal.start(m, args);
    terminals.push(t);
    return t;
  };

  beforeAll(async () => {
    h = await startHarness({ rateLimitPerMinute: '100000', rateLimitPerHour: '1000000' });
  });
  afterAll(async () => {
    await Promise.all(terminals.map((t) => t.close()));
    await h?.close();
  });

  it('auth init asks for the API URL and the token; the token is never shown', async () => {
    const m = await newMachine();
    const t = await open(m, ['auth', 'init', '--context', 'tty']);
    await t.waitFor('❯ Enter the API URL (http://127.0.0.1:8080): ');
    await t.type(h.apiUrl, 'Enter');
    await t.waitFor('❯ Enter your access token: ');
    // A slip of the finger, corrected with Backspace.
    await t.type(`${h.token}x`, 'BSpace', 'Enter');
    expect(await t.exitStatus()).toBe(0);
    const screen = await t.screen();
    expect(screen).not.toContain(h.token);
    expect(screen).toContain(`❯ Enter your access token: ${'*'.repeat(h.token.length)}\n`);
    expect(screen).toContain('Validating token... ✔');
    const config = parse(await readFile(m.configFile, 'utf8')) as { 'auth-contexts': Record<string, Record<string, string>> };
    expect(config['auth-contexts'].tty).toEqual({ 'api-url': h.apiUrl, 'access-token': h.token });
  });

  it('Ctrl-C at the token prompt cancels and writes nothing', async () => {
    const m = await newMachine();
    const t = await open(m, ['auth', 'init', '--api-url', h.apiUrl]);
    await t.waitFor('❯ Enter your access token: ');
    await t.type('dop_v1_', 'C-c');
    expect(await t.exitStatus()).toBe(1);
    expect(await t.screen()).toContain('Error: canceled');
    await expect(readFile(m.configFile, 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('delete asks; "n" keeps the registry, "y" deletes it', async () => {
    const m = await newMachine();
    const token = await h.newTeam('tty-team', 'basic');
    await h.createRegistry('tty-reg', token);
    const env = ['-t', token, '-u', h.apiUrl];
    const no = await open(m, ['registry', 'delete', ...env]);
    await no.waitFor('Warning: Are you sure you want to delete registry (y/N) ? ');
    await no.type('n', 'Enter');
    expect(await no.exitStatus()).toBe(1);
    expect(await no.screen()).toContain('Error: operation aborted');
    expect((await h.api('/v2/registries', { token })).status).toBe(200);
    expect(((await (await h.api('/v2/registries', { token })).json()) as { registries: unknown[] }).registries).toHaveLength(1);

    const yes = await open(m, ['registry', 'delete', ...env]);
    await yes.waitFor('(y/N) ? ');
    await yes.type('yes', 'Enter');
    expect(await yes.exitStatus()).toBe(0);
    expect(((await (await h.api('/v2/registries', { token })).json()) as { registries: unknown[] }).registries).toHaveLength(0);
  });

  it('delete-tag asks once for several tags, and garbage-collection start asks before starting', async () => {
    const m = await newMachine();
    const token = await h.newTeam('tty-tags', 'basic');
    await h.createRegistry('tty-tags', token);
    const password = await h.dockerPassword('tty-tags', { readWrite: true, token });
    const jwt = await h.jwt(password, 'repository:tty-tags/app:pull,push');
    const { pushImage } = await import('../harness.js');
    for (const tag of ['a', 'b', 'c']) await pushImage(h, jwt, 'tty-tags/app', tag);
    const flags = ['-t', token, '-u', h.apiUrl];

    const dt = await open(m, ['registry', 'repository', 'delete-tag', 'app', 'a', 'b', ...flags]);
    await dt.waitFor('Warning: Are you sure you want to delete 2 repository tag(s) (y/N) ? ');
    await dt.type('y', 'Enter');
    expect(await dt.exitStatus()).toBe(0);
    const tags = (await (await h.api('/v2/registries/tty-tags/repositories/app/tags', { token })).json()) as { tags: { tag: string }[] };
    expect(tags.tags.map((x) => x.tag)).toEqual(['c']);

    const gc = await open(m, ['registry', 'gc', 'start', ...flags]);
    await gc.waitFor('Warning: Are you sure you want to run garbage collection on registry tty-tags -- what it deletes cannot be recovered (y/N) ? ');
    await gc.type('', 'Enter');
    expect(await gc.exitStatus()).toBe(1);
    expect(((await (await h.api('/v2/registries/tty-tags/garbage-collections', { token })).json()) as { garbage_collections: unknown[] }).garbage_collections).toHaveLength(0);
    const gcYes = await open(m, ['registry', 'gc', 'start', ...flags]);
    await gcYes.waitFor('(y/N) ? ');
    await gcYes.type('y', 'Enter');
    expect(await gcYes.exitStatus()).toBe(0);
    expect(await gcYes.screen()).toMatch(/tty-tags\s+requested/);
  });
});
