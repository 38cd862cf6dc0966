/**
 * doctl's CmdBuilder over commander: a command is declared as data (its use line, aliases,
 * flags, whether it displays a table) and a `run(c)` function; the builder adds the flags, the
 * global flags' merge, `--format`/`--no-header` on displaying commands, doctl's argument
 * errors, and one place where anything a command throws becomes `Error: …` and exit status 1.
 */
import { CommanderError, Option, type Command } from 'commander';
import { CliError, errorMessage, SilentExit } from './errors.js';
import type { ClientIo } from './io.js';
import { display, type Displayable } from './output/display.js';
import { confirm } from './prompt.js';
import { Session, type GlobalFlags } from './session.js';

export interface FlagSpec {
  /** Long name without dashes, e.g. `expiry-seconds`. */
  name: string;
  short?: string;
  type: 'bool' | 'string' | 'int';
  description: string;
  /** Shown in help; applied by the command itself. */
  defaultValue?: string | number;
  /** Value placeholder for help, e.g. `slug`. */
  value?: string;
  /** Accepted but not listed in help (doctl hides its retry waits too). */
  hidden?: boolean;
}

export interface CommandSpec {
  /** `create <registry-name>`: the name, then the arguments as doctl's help shows them. */
  use: string;
  short: string;
  aliases?: string[];
  hidden?: boolean;
  /** Adds `--format` and `--no-header` (doctl's displayerType option). */
  displayer?: boolean;
  flags?: FlagSpec[];
  run(c: CmdConfig): Promise<void>;
}

/** doctl's persistent flags, accepted by every client command. */
export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'access-token', short: 't', type: 'string', value: 'token', description: 'API access token (env BERTH_ACCESS_TOKEN)' },
  { name: 'api-url', short: 'u', type: 'string', value: 'url', description: 'Berth API URL (env BERTH_API_URL; default http://127.0.0.1:8080)' },
  { name: 'context', type: 'string', value: 'name', description: 'Authentication context name (env BERTH_CONTEXT)' },
  { name: 'config', short: 'c', type: 'string', value: 'file', description: 'Config file (default $XDG_CONFIG_HOME/berth/config.yaml)' },
  { name: 'output', short: 'o', type: 'string', value: 'type', description: 'Desired output format [text|json] (default "text")' },
  { name: 'trace', type: 'bool', description: 'Show a log of network activity while performing a command' },
  { name: 'http-retry-max', type: 'int', value: 'n', description: 'Maximum number of retries for requests that fail with a 429 or 500-level error (default 5)' },
  { name: 'interactive', type: 'bool', description: 'Enable interactive behavior (default: true when stdout and stderr are terminals)' },
  { name: 'http-retry-wait-max', type: 'int', value: 'seconds', hidden: true, description: 'Longest wait before retrying a failed request, in seconds (default 30)' },
];

/** Every boolean flag name, for `--flag=true|false` (which commander does not take). */
export const BOOL_FLAG_NAMES = new Set<string>(['no-header']);

function addFlag(cmd: Command, flag: FlagSpec, hideAll = false): void {
  const hidden = hideAll || flag.hidden === true;
  const names = `${flag.short ? `-${flag.short}, ` : ''}--${flag.name}`;
  if (flag.type === 'bool') {
    BOOL_FLAG_NAMES.add(flag.name);
    cmd.addOption(new Option(names, flag.description).hideHelp(hidden));
    // `--x=false` arrives as `--no-x` (see normalizeBoolFlags).
    cmd.addOption(new Option(`--no-${flag.name}`).hideHelp());
    return;
  }
  const option = new Option(`${names} <${flag.value ?? (flag.type === 'int' ? 'n' : 'value')}>`, flag.description);
  if (flag.defaultValue !== undefined) option.default(String(flag.defaultValue));
  cmd.addOption(option.hideHelp(hidden));
}

/**
 * Adds the global flags to a client command group, or (hidden from help, which lists them
 * under each client command) to the program, where they may come before the command.
 */
export function addGlobalFlags(cmd: Command, options: { hidden?: boolean } = {}): void {
  for (const flag of GLOBAL_FLAGS) addFlag(cmd, flag, options.hidden);
}

/** The argument words of each command's use line, for the help's command list. */
const argumentWords = new WeakMap<Command, string>();

/**
 * Rewrites Go-style boolean flags, which doctl's documentation uses (`--read-only=true`), into
 * what commander understands; stops at `--`.
 */
export function normalizeBoolFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  let done = false;
  for (const arg of argv) {
    const m = done ? null : /^--([a-z][a-z0-9-]*)=(.*)$/.exec(arg);
    if (arg === '--') done = true;
    if (!m || !BOOL_FLAG_NAMES.has(m[1]!)) {
      out.push(arg);
      continue;
    }
    const [, name, value] = m;
    const parsed = parseGoBool(value!);
    if (parsed === undefined) throw new CliError(`invalid argument "${value}" for "--${name}" flag: not a boolean (true or false)`);
    if (parsed) out.push(`--${name}`);
    else if (!name!.startsWith('no-')) out.push(`--no-${name}`);
  }
  return out;
}

/** strconv.ParseBool. */
function parseGoBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

function commandPath(cmd: Command): string[] {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names;
}

/** commander's own usage errors, reworded as cobra prints them, with a hint instead of the help. */
function doctlStyle(text: string, path: string): string {
  const lines = text.trimEnd().split('\n');
  let first = lines[0]!.replace(/^error: /, '');
  const suggestion = /^\(Did you mean (.+)\?\)$/.exec(lines[1] ?? '');
  let m: RegExpExecArray | null;
  if ((m = /^unknown option '(.+)'$/.exec(first))) first = m[1]!.startsWith('--') ? `unknown flag: ${m[1]}` : `unknown shorthand flag: '${m[1]!.slice(1, 2)}' in ${m[1]}`;
  else if ((m = /^unknown command '(.+)'$/.exec(first))) first = `unknown command "${m[1]}" for "${path}"`;
  else if ((m = /^option '(?:-\w, )?(--[\w-]+)[^']*' argument missing$/.exec(first))) first = `flag needs an argument: ${m[1]}`;
  let out = `Error: ${first}\n`;
  if (suggestion) out += `\nDid you mean this?\n\t${suggestion[1]!.replace(/^--/, '--')}\n\n`;
  return out;
}

/** Shared settings of every client command: output streams, errors as doctl prints them. */
export function configureClientCommand(cmd: Command, io: ClientIo): Command {
  const path = commandPath(cmd).join(' ');
  return cmd
    .enablePositionalOptions(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(doctlStyle(s, path)),
    })
    .showHelpAfterError(`Run '${path} --help' for usage.`)
    .configureHelp({
      showGlobalOptions: true,
      sortSubcommands: false,
      subcommandTerm: (sub) => [[sub.name(), ...sub.aliases()].join('|'), argumentWords.get(sub)].filter(Boolean).join(' '),
    });
}

/** Tracks the exit status of the client command that ran. */
export class ClientRuntime {
  exitCode = 0;
  constructor(readonly io: ClientIo) {}

  /** The global flags given to the program, the group and the command; later ones win. */
  private globals(cmd: Command): GlobalFlags {
    const merged: Record<string, unknown> = {};
    const chain: Command[] = [];
    for (let c: Command | null = cmd; c; c = c.parent) chain.unshift(c);
    for (const c of chain) {
      for (const [key, value] of Object.entries(c.opts())) if (value !== undefined) merged[key] = value;
    }
    return merged as GlobalFlags;
  }

  /** Runs a command's body; anything thrown is printed as one line and sets exit status 1. */
  async run(spec: CommandSpec, cmd: Command, args: string[]): Promise<void> {
    const globals = this.globals(cmd);
    let session: Session | undefined;
    try {
      session = await Session.open(this.io, globals);
      await spec.run(new CmdConfig(commandPath(cmd).slice(1).join('.'), args, cmd.opts(), session, (key) => cmd.getOptionValueSource(key)));
    } catch (error) {
      this.exitCode = 1;
      if (error instanceof SilentExit) return;
      const message = errorMessage(error, session?.lastExchange);
      if ((session?.output ?? globals.output) === 'json') this.io.stdout.write(`${JSON.stringify({ errors: [{ detail: message }] })}\n`);
      else this.io.stderr.write(`Error: ${message}\n`);
    }
  }

  /** Adds a command built from `spec` under `parent`. */
  add(parent: Command, spec: CommandSpec): Command {
    const [name, ...argWords] = spec.use.split(' ');
    const cmd = parent.command(name!, { hidden: spec.hidden ?? false });
    configureClientCommand(cmd, this.io);
    cmd.description(spec.short).usage(`${argWords.length > 0 ? `${argWords.join(' ')} ` : ''}[flags]`);
    argumentWords.set(cmd, argWords.join(' '));
    cmd.argument('[args...]');
    if (spec.aliases) cmd.aliases(spec.aliases);
    for (const flag of spec.flags ?? []) addFlag(cmd, flag);
    if (spec.displayer) {
      addFlag(cmd, { name: 'format', type: 'string', value: 'columns', description: 'Columns for output in a comma-separated list' });
      cmd.option('--no-header', 'Return raw data with no headers');
    }
    cmd.action(async (args: string[], _opts: unknown, self: Command) => this.run(spec, self, args));
    return cmd;
  }

  /** A command that only groups others (`registry repository`). */
  group(parent: Command, name: string, description: string, aliases: string[] = []): Command {
    const cmd = parent.command(name);
    configureClientCommand(cmd, this.io);
    cmd.description(description).usage('[command]');
    if (aliases.length > 0) cmd.aliases(aliases);
    return cmd;
  }
}

/** What a command's body gets: its arguments and flags, the session, and doctl's helpers. */
export class CmdConfig {
  constructor(
    /** doctl's namespace, `registry.repository.list-tags`, used in argument errors. */
    readonly ns: string,
    readonly args: string[],
    readonly opts: Record<string, unknown>,
    readonly session: Session,
    /** Where a flag's value came from: `cli` when the user gave it, `default` otherwise. */
    readonly flagSource: (key: string) => string | undefined,
  ) {}

  get io(): ClientIo {
    return this.session.io;
  }

  bool(name: string): boolean {
    return this.opts[name] === true;
  }

  string(name: string): string | undefined {
    const value = this.opts[name];
    return typeof value === 'string' ? value : undefined;
  }

  /** An integer flag (0 when absent), with cobra's message for a bad value. */
  int(name: string, flag: string): number {
    const value = this.string(name);
    if (value === undefined) return 0;
    if (!/^-?\d+$/.test(value)) throw new CliError(`invalid argument "${value}" for "--${flag}" flag: not an integer`);
    return Number(value);
  }

  /** Prints a table or JSON, as `-o`, `--format` and `--no-header` say. */
  display(item: Displayable): void {
    display(this.io.stdout, item, { output: this.session.output, format: this.string('format'), noHeader: this.opts.header === false });
  }

  /** Whether a displayed table would show `column` (to skip fetching what nobody sees). */
  shows(column: string, defaults: readonly string[]): boolean {
    if (this.session.output !== 'text') return false;
    const format = (this.string('format') ?? '').replace(/\s+/g, '').split(',').filter(Boolean);
    return (format.length > 0 ? format : defaults).includes(column);
  }

  /**
   * doctl's confirmation: skipped with `--force`; refused without a terminal (or
   * `--interactive`); anything but y/yes aborts.
   */
  async confirm(message: string): Promise<void> {
    if (this.bool('force')) return;
    if (!this.session.interactive) {
      this.session.warn('Requires confirmation. Use the `--force` flag to continue without confirmation.');
      throw new CliError('operation aborted');
    }
    if (!(await confirm(this.io, message))) throw new CliError('operation aborted');
  }
}

export { CommanderError };
