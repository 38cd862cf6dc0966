import type { Command } from 'commander';
import { loadConfig, parseDurationSeconds } from '../config/index.js';
import type { AppContext } from '../context.js';

// The domain modules load only when an admin command runs, so that `berth registry …` (the
// client, in the same binary) starts without the server's code.
const parseScopes = async (list: string) => (await import('../auth/index.js')).parseScopes(list);
const isTierSlug = async (slug: string) => (await import('../registry/index.js')).isTierSlug(slug);

interface DbFlags {
  dataDir?: string;
  databaseUrl?: string;
}

/** Admin commands open the metadata store directly, so they work while the server runs. */
async function withContext<T>(flags: DbFlags, work: (ctx: AppContext) => Promise<T>): Promise<T> {
  const config = loadConfig({ dataDir: flags.dataDir, databaseUrl: flags.databaseUrl, logLevel: 'warn' });
  const { createContext } = await import('../context.js');
  const ctx = await createContext(config);
  try {
    return await work(ctx);
  } finally {
    await ctx.close();
  }
}

function dbOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'data directory (env BERTH_DATA_DIR)')
    .option('--database-url <url>', 'sqlite:PATH or postgres://… (env BERTH_DATABASE_URL)');
}

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('manage teams and API tokens');

  const team = admin.command('team').description('teams own registries and tokens');
  dbOptions(
    team
      .command('create <name>')
      .description('create a team and print a full-access API token (last line)')
      .option('--tier <slug>', 'subscription tier: starter, basic or professional', 'basic'),
  ).action(async (name: string, opts: DbFlags & { tier: string }) => {
    if (!(await isTierSlug(opts.tier))) throw new Error(`--tier must be starter, basic or professional, not "${opts.tier}"`);
    const tier = opts.tier as 'starter' | 'basic' | 'professional';
    const token = await withContext(opts, async (ctx) => {
      const created = await ctx.teams.create(name, tier);
      return ctx.credentials.issue({ teamId: created.id, kind: 'api', scopes: ['*'], description: 'team creation' });
    });
    console.log(`Created team "${name}" (${tier}). Full-access API token, shown once:`);
    console.log(token.secret);
  });

  const token = admin.command('token').description('API tokens (stored only as hashes)');
  dbOptions(
    token
      .command('create')
      .description('create an API token and print it (last line)')
      .requiredOption('--team <name>', 'the team the token acts for')
      .option('--scopes <list>', 'comma-separated: * or registry:read,registry:create,registry:update,registry:delete', '*')
      .option('--expires-in <duration>', 'lifetime such as 90s, 15m, 1h, 30d (default: never)')
      .option('--description <text>', 'a note to recognise the token by'),
  ).action(async (opts: DbFlags & { team: string; scopes: string; expiresIn?: string; description?: string }) => {
    const scopes = await parseScopes(opts.scopes);
    let expiresAt: number | null = null;
    if (opts.expiresIn !== undefined) {
      const seconds = parseDurationSeconds(opts.expiresIn);
      if (seconds === undefined || seconds <= 0) throw new Error(`--expires-in must be a positive duration such as 15m or 30d, not "${opts.expiresIn}"`);
      expiresAt = Date.now() + seconds * 1000;
    }
    const issued = await withContext(opts, async (ctx) => {
      const team = await ctx.teams.byName(opts.team);
      if (!team) throw new Error(`team "${opts.team}" does not exist; create it with: berth admin team create ${opts.team}`);
      return ctx.credentials.issue({ teamId: team.id, kind: 'api', scopes, expiresAt, description: opts.description ?? null });
    });
    const expiry = issued.expiresAt ? `expires ${new Date(issued.expiresAt).toISOString()}` : 'never expires';
    console.log(`API token for team "${opts.team}" with scopes ${scopes.join(',')} (${expiry}), shown once:`);
    console.log(issued.secret);
  });

  dbOptions(token.command('revoke <token>').description('revoke an API token or docker credential')).action(async (secret: string, opts: DbFlags) => {
    const revoked = await withContext(opts, (ctx) => ctx.credentials.revoke(secret));
    if (!revoked) throw new Error('no live token matches');
    console.log('revoked');
  });
}
