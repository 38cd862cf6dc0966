import { hasScope, type Principal } from '../../auth/index.js';
import type { AppContext } from '../../context.js';

/**
 * Issues a new docker credential (stored only as a hash) and returns it as a Docker
 * config.json keyed by the public registry host. Username and password are both the secret,
 * as DigitalOcean does. Read-only unless `readWrite`; never expires unless `expirySeconds`.
 */
export async function issueDockerCredentials(ctx: AppContext, principal: Principal, registryName: string | null, readWrite: boolean, expirySeconds: number) {
  const scopes = ['registry:read'];
  if (readWrite) {
    scopes.push('registry:update');
    if (hasScope(principal, 'registry:delete')) scopes.push('registry:delete');
  }
  const issued = await ctx.credentials.issue({
    teamId: principal.teamId,
    kind: 'registry',
    scopes,
    registryName,
    expiresAt: expirySeconds > 0 ? Date.now() + expirySeconds * 1000 : null,
    description: readWrite ? 'docker credential (read/write)' : 'docker credential (read-only)',
  });
  const auth = Buffer.from(`${issued.secret}:${issued.secret}`).toString('base64');
  return { auths: { [ctx.config.registryHost]: { auth } } };
}
