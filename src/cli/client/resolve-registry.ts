/**
 * Which registry a `berth registry …` command acts on when the user names none: the team's
 * only registry (GET /v2/registry), as doctl finds it; with several, DigitalOcean's API answers
 * 412 and the message lists them.
 */
import { ApiError, unwrap } from '../../api-client/index.js';
import type { Registry } from './api-types.js';
import type { CmdConfig } from './command.js';
import { CliError, errorMessage } from './errors.js';
import type { Tree } from './tree.js';

/** GET /v2/registry: the team's only registry. */
export async function onlyRegistry(c: CmdConfig): Promise<Registry> {
  const body = await unwrap(c.session.api().GET('/v2/registry'));
  return body.registry ?? {};
}

/** The error for a 412, with the team's registries when they can be listed. */
export async function multipleRegistries(tree: Tree, advice: string): Promise<CliError> {
  const names = await tree.listRegistries().then(
    (list) => list.registries.map((r) => r.name ?? ''),
    () => [],
  );
  const base = `multiple registries found. ${advice}`;
  return new CliError(names.length > 0 ? `${base}.\nAvailable registries: ${names.join(', ')}` : base);
}

export function isPreconditionFailed(error: unknown): boolean {
  return error instanceof ApiError && error.status === 412;
}

async function fallback(c: CmdConfig, tree: Tree, advice: string): Promise<string> {
  try {
    return (await onlyRegistry(c)).name ?? '';
  } catch (error) {
    if (isPreconditionFailed(error)) throw await multipleRegistries(tree, advice);
    throw new CliError(`failed to get registry: ${errorMessage(error, c.session.lastExchange)}`);
  }
}

/** doctl's getRegistryNameWithFallback: `--registry`, else the team's only registry. */
export function registryFromFlag(c: CmdConfig, tree: Tree): Promise<string> {
  const flag = c.string('registry');
  if (flag) return Promise.resolve(flag);
  return fallback(c, tree, 'Please specify one with --registry <name>');
}

/** doctl's getRegistryNameFromArgs: the positional name, else the team's only registry. */
export function registryFromArgs(c: CmdConfig, tree: Tree, name: string | undefined): Promise<string> {
  if (name) return Promise.resolve(name);
  return fallback(c, tree, 'Please specify registry as an argument');
}
