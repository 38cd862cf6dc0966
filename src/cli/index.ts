import { Command, CommanderError, Option } from 'commander';
import { ConfigError, SETTINGS, type ServeFlags } from '../config/index.js';
import { AppError } from '../errors/index.js';
import { registerAdminCommands } from './admin.js';
import { OperatorError } from '../ops/errors.js';
import { clientEnv, normalizeBoolFlags, registerClientCommands, type ClientIo } from './client/index.js';
import { CliError } from './client/errors.js';
import type { ClientRuntime } from './client/command.js';
import { registerOpsCommands } from './ops.js';

/** The process's own streams and environment, for the client commands. */
export function processIo(): ClientIo {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: clientEnv(process.env), uid: process.getuid?.() ?? 0 };
}

export function buildCli(io: ClientIo = processIo()): { program: Command; client: ClientRuntime } {
  const program = new Command('berth')
    .description('Berth: a self-hosted container registry speaking OCI Distribution and the DigitalOcean Container Registry API')
    .version('0.1.0')
    .showHelpAfterError()
    // Options before a subcommand belong to the program: `serve --api-url` stays serve's.
    .enablePositionalOptions();

  const serveCommand = program.command('serve').description('run the registry and API listeners');
  for (const s of SETTINGS) serveCommand.addOption(new Option(s.flag, `${s.description} (env ${s.env}; default ${s.default})`));
  // Loaded on use: the client commands start without the server's code.
  serveCommand.action(async (flags: ServeFlags) => (await import('./serve.js')).serve(flags));

  program
    .command('migrate')
    .description('bring the metadata schema up to date (serve also does this at start)')
    .option('--data-dir <dir>', 'data directory (env BERTH_DATA_DIR)')
    .option('--database-url <url>', 'sqlite:PATH or postgres://… (env BERTH_DATABASE_URL)')
    .action(async (flags: ServeFlags) => (await import('./migrate.js')).migrate(flags));

  registerAdminCommands(program);
  registerOpsCommands(program);
  const client = registerClientCommands(program, io);
  return { program, client };
}

/**
 * Runs the CLI and returns the exit status. Server and admin errors print one clear message
 * (exit 2 for configuration problems) instead of a stack trace; the client commands print
 * doctl's `Error: …` lines themselves.
 */
export async function runCli(argv: string[], io: ClientIo = processIo()): Promise<number> {
  const { program, client } = buildCli(io);
  try {
    await program.parseAsync(normalizeBoolFlags(argv.slice(2)), { from: 'user' });
    return client.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof CliError) {
      io.stderr.write(`Error: ${err.message}\n`);
      return 1;
    }
    if (err instanceof ConfigError || err instanceof AppError || err instanceof OperatorError) {
      console.error(`berth: ${err.message}`);
      return 2;
    }
    if (err instanceof Error && !('code' in err && String((err as { code: unknown }).code).startsWith('commander'))) {
      console.error(`berth: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
