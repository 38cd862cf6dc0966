import type { AppContext } from './context.js';

export const DEFAULT_TEAM = 'default';

/**
 * First start: team `default` and a full-access token. With BERTH_BOOTSTRAP_TOKEN the given
 * token is ensured to exist (idempotent across restarts and racing nodes); otherwise a new one
 * is generated once and returned so the caller can print it.
 */
export async function bootstrap(ctx: AppContext): Promise<{ printedToken?: string }> {
  const wanted = ctx.config.bootstrapToken;
  if (wanted) {
    if (await ctx.credentials.existsBySecret(wanted)) return {};
    const team = await ctx.teams.ensure(DEFAULT_TEAM);
    try {
      await ctx.credentials.issue({ teamId: team.id, kind: 'api', scopes: ['*'], secret: wanted, description: 'bootstrap' });
    } catch (err) {
      if (!(await ctx.credentials.existsBySecret(wanted))) throw err;
    }
    return {};
  }
  if (await ctx.credentials.hasAny()) return {};
  const team = await ctx.teams.ensure(DEFAULT_TEAM);
  const issued = await ctx.credentials.issue({ teamId: team.id, kind: 'api', scopes: ['*'], description: 'bootstrap' });
  return { printedToken: issued.secret };
}
