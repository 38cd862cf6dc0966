/**
 * The `berth` client: doctl's registry commands for any Berth, talking to its API only through
 * the typed API client (src/api-client). `auth` manages contexts, `registry` is the
 * single-registry tree, `registries` the multi-registry tree, `completion` the shell scripts.
 */
import type { Command } from 'commander';
import { addGlobalFlags, ClientRuntime } from './command.js';
import { registerAuthCommands } from './commands/auth.js';
import { registerCompletionCommand } from './commands/completion.js';
import { registerRegistriesCommands } from './commands/registries.js';
import { registerRegistryCommands } from './commands/registry.js';
import type { ClientIo } from './io.js';

export { normalizeBoolFlags } from './command.js';
export { clientEnv, type ClientEnv, type ClientIo } from './io.js';

/** The names of the client's top-level commands. */
export const CLIENT_COMMANDS = ['auth', 'registry', 'registries', 'completion'];

/**
 * Adds the client commands to the program. The global flags also go on the program itself,
 * where they may come before the command (`berth -o json registry get`).
 */
export function registerClientCommands(program: Command, io: ClientIo): ClientRuntime {
  const runtime = new ClientRuntime(io);
  addGlobalFlags(program, { hidden: true });
  registerAuthCommands(runtime, program);
  registerRegistryCommands(runtime, program);
  registerRegistriesCommands(runtime, program);
  addGlobalFlags(registerCompletionCommand(runtime, program));
  return runtime;
}
