/**
 * `berth auth init|list|switch|remove|token`: doctl's authentication contexts. A context is an
 * API URL and a token, stored in the configuration file under a name; `--context` (or
 * `BERTH_CONTEXT`) picks one for a command, `auth switch` changes the default.
 */
import type { Command } from 'commander';
import { ApiError, unwrap } from '../../../api-client/index.js';
import { addGlobalFlags, type ClientRuntime, type CmdConfig, type CommandSpec } from '../command.js';
import { DEFAULT_CONTEXT, writeConfigFile, type ConfigFile } from '../config-file.js';
import { CliError, errorMessage, tooManyArgs } from '../errors.js';
import { ask } from '../prompt.js';
import { DEFAULT_API_URL } from '../session.js';

function noArgs(c: CmdConfig): void {
  if (c.args.length > 0) throw tooManyArgs(c.ns);
}

function checkApiUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`invalid API URL "${url}": give one such as ${DEFAULT_API_URL}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new CliError(`invalid API URL "${url}": it must start with http:// or https://`);
  return url.replace(/\/+$/, '');
}

async function init(c: CmdConfig): Promise<void> {
  noArgs(c);
  const { session, io } = c;
  const context = session.contextName;
  let apiUrl = session.flags.apiUrl ?? io.env.BERTH_API_URL;
  let token = session.flags.accessToken ?? io.env.BERTH_ACCESS_TOKEN;
  if (!token) {
    if (!session.interactive) throw new CliError('Unable to read Berth access token: unknown terminal (pass --access-token, or run in a terminal)');
    io.stderr.write(
      'Please authenticate berth for use with your Berth server. `berth serve` prints a token on its first start; `berth admin token create` makes more.\n\n',
    );
    if (!apiUrl) {
      const suggested = session.storedContext?.['api-url'] ?? DEFAULT_API_URL;
      apiUrl = (await ask(io, `❯ Enter the API URL (${suggested}): `))?.trim() || suggested;
    }
    token = (await ask(io, '❯ Enter your access token: ', { hidden: true }))?.trim();
    if (!token) throw new CliError('Unable to read Berth access token: no token was entered');
  } else {
    io.stdout.write(`Using token for context ${context}\n`);
  }
  apiUrl = checkApiUrl(apiUrl ?? session.storedContext?.['api-url'] ?? DEFAULT_API_URL);

  io.stdout.write('\nValidating token... ');
  try {
    await unwrap(session.apiWithToken(token, apiUrl).GET('/v2/registries'));
  } catch (error) {
    // A token without registry:read still authenticates: only 401 means it is no good.
    if (!(error instanceof ApiError && error.status === 403)) {
      io.stdout.write('✘\n\n');
      throw new CliError(`Unable to use supplied token to access API: ${errorMessage(error, session.lastExchange)}`);
    }
  }
  io.stdout.write('✔\n\n');

  const config: ConfigFile = { ...session.config, 'auth-contexts': { ...session.config['auth-contexts'], [context]: { 'api-url': apiUrl, 'access-token': token } } };
  config.context ??= DEFAULT_CONTEXT;
  await writeConfigFile(session.configPath, config);
}

/** Context names, sorted, with `default` always there (as doctl lists them). */
function contextNames(config: ConfigFile): string[] {
  return [...new Set([DEFAULT_CONTEXT, ...Object.keys(config['auth-contexts'] ?? {})])].sort();
}

async function list(c: CmdConfig): Promise<void> {
  noArgs(c);
  const { session } = c;
  const current = session.contextName;
  const names = contextNames(session.config);
  if (session.output === 'json') {
    const contexts = names.map((name) => ({ name, current: name === current, api_url: session.config['auth-contexts']?.[name]?.['api-url'] ?? null }));
    c.io.stdout.write(`${JSON.stringify(contexts, null, 2)}\n`);
    return;
  }
  for (const name of names) c.io.stdout.write(name === current ? `${name} (current)\n` : `${name}\n`);
}

async function switchContext(c: CmdConfig): Promise<void> {
  noArgs(c);
  const { session } = c;
  const context = session.contextName;
  if (!contextNames(session.config).includes(context)) throw new CliError('context does not exist');
  await writeConfigFile(session.configPath, { ...session.config, context });
  c.io.stdout.write(`Now using context [${context}] by default\n`);
}

async function remove(c: CmdConfig): Promise<void> {
  noArgs(c);
  const { session } = c;
  // Only the flag: removing whatever BERTH_CONTEXT names would be a surprise.
  const context = session.flags.context?.toLowerCase();
  if (!context) throw new CliError('You must provide a context name');
  const contexts = { ...session.config['auth-contexts'] };
  if (context === DEFAULT_CONTEXT) {
    // doctl keeps the default context and forgets its token.
    if (contexts[context]) contexts[context] = { ...contexts[context], 'access-token': '' };
  } else {
    if (!contexts[context]) throw new CliError('Context not found');
    delete contexts[context];
  }
  const config: ConfigFile = { ...session.config, 'auth-contexts': contexts };
  if (config.context === context && context !== DEFAULT_CONTEXT) config.context = DEFAULT_CONTEXT;
  await writeConfigFile(session.configPath, config);
  c.io.stdout.write('Context deleted successfully\n');
}

async function token(c: CmdConfig): Promise<void> {
  noArgs(c);
  c.io.stdout.write(`${c.session.accessToken ?? ''}\n`);
}

const commands: CommandSpec[] = [
  { use: 'init', short: 'Initialize berth to use a specific Berth server and token', run: init },
  { use: 'switch', short: 'Switch between authentication contexts', run: switchContext },
  { use: 'remove --context <name>', short: 'Remove authentication contexts', run: remove },
  {
    use: 'list',
    short: 'List available authentication contexts',
    aliases: ['ls'],
    // doctl accepts --format here although the listing is plain text.
    flags: [{ name: 'format', type: 'string', value: 'columns', description: 'Columns for output in a comma-separated list. Possible values: `text`' }],
    run: list,
  },
  { use: 'token', short: 'Display current authentication context API token', aliases: ['t'], run: token },
];

export function registerAuthCommands(rt: ClientRuntime, program: Command): Command {
  const auth = rt.group(program, 'auth', 'Display commands for authenticating berth with a Berth server');
  addGlobalFlags(auth);
  for (const spec of commands) rt.add(auth, spec);
  return auth;
}
