import { Command, Option } from 'commander';
import { ConfigError, SETTINGS, type ServeFlags } from '../config/index.js';
import { AppError } from '../errors/index.js';
import { registerAdminCommands } from './admin.js';
import { migrate } from './migrate.js';
import { OperatorError } from '../ops/errors.js';
import { registerOpsCommands } from './ops.js';
import { serve } from './serve.js';

export function buildCli(): Command {
  const program = new Command('berth')
    .description('Berth: a self-hosted container registry speaking OCI Distribution and the DigitalOcean Container Registry API')
    .version('0.1.0')
    .showHelpAfterError();

  const serveCommand = program.command('serve').description('run the registry and API listeners');
  for (const s of SETTINGS) serveCommand.addOption(new Option(s.flag, `${s.description} (env ${s.env}; default ${s.default})`));
  serveCommand.action((flags: ServeFlags) => serve(flags));

  program
    .command('migrate')
    .description('bring the metadata schema up to date (serve also does this at start)')
    .option('--data-dir <dir>', 'data directory (env BERTH_DATA_DIR)')
    .option('--database-url <url>', 'sqlite:PATH or postgres://… (env BERTH_DATABASE_URL)')
    .action((flags: ServeFlags) => migrate(flags));

  registerAdminCommands(program);
  registerOpsCommands(program);
  return program;
}

/** Runs the CLI; user errors print one clear message and exit 2 instead of a stack trace. */
export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof AppError || err instanceof OperatorError) {
      console.error(`berth: ${err.message}`);
      process.exit(2);
    }
    if (err instanceof Error && !('code' in err && String((err as { code: unknown }).code).startsWith('commander'))) {
      console.error(`berth: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
}
