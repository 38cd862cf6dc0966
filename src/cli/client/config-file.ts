/**
 * The client's configuration file, doctl's config.yaml for Berth: authentication contexts
 * (an API URL and an access token each) and the current context.
 *
 *   context: default
 *   auth-contexts:
 *     default:
 *       api-url: http://127.0.0.1:8080
 *       access-token: dop_v1_…
 *
 * It lives at `$XDG_CONFIG_HOME/berth/config.yaml` (`~/.config/berth/config.yaml` when unset),
 * or wherever `--config` says, and holds tokens: it is written with mode 0600.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { CliError } from './errors.js';
import type { ClientEnv } from './io.js';

export const DEFAULT_CONTEXT = 'default';

export interface ContextEntry {
  'api-url'?: string;
  'access-token'?: string;
}

export interface ConfigFile {
  context?: string;
  'auth-contexts'?: Record<string, ContextEntry>;
}

/** `$XDG_CONFIG_HOME/berth/config.yaml`, else `$HOME/.config/berth/config.yaml`. */
export function defaultConfigPath(env: ClientEnv): string {
  const base = env.XDG_CONFIG_HOME ?? (env.HOME ? join(env.HOME, '.config') : undefined);
  if (!base) throw new CliError('neither $XDG_CONFIG_HOME nor $HOME is set; pass --config FILE');
  return join(base, 'berth', 'config.yaml');
}

/** The file's contents; an absent file is an empty configuration. */
export async function readConfigFile(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`Config initialization failed: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = parse(text);
  } catch (err) {
    throw new CliError(`Config initialization failed: ${path}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new CliError(`Config initialization failed: ${path} is not a YAML mapping`);
  const config = data as ConfigFile;
  const contexts = config['auth-contexts'];
  if (contexts !== undefined && (typeof contexts !== 'object' || contexts === null || Array.isArray(contexts))) {
    throw new CliError(`Config initialization failed: ${path}: auth-contexts must be a mapping of context names`);
  }
  return config;
}

/**
 * Replaces the file (temp file, then rename) with mode 0600, creating its directory (0700)
 * when needed.
 */
export async function writeConfigFile(path: string, config: ConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, stringify(config), { mode: 0o600 });
    await chmod(temp, 0o600);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw new CliError(`Unable to write configuration: ${(err as Error).message}`);
  }
}
