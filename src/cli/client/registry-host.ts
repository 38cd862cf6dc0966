/**
 * The public host of the registry (`127.0.0.1:5000`, `registry.example.com`): the only place
 * the API says it is the `auths` key of a docker-credentials response. DigitalOcean's host is a
 * constant in doctl; Berth's is whatever the server was configured with, so the CLI asks.
 *
 * To learn it without leaving a credential behind, the CLI asks for a read-only credential that
 * expires in a minute and revokes it at once.
 */
import { revokeToken } from '../../api-client/index.js';
import { decodeAuth } from './docker-auth.js';
import { CliError } from './errors.js';
import type { Session } from './session.js';
import type { Tree } from './tree.js';

const hosts = new WeakMap<Session, Promise<string>>();

/** The registry host, learned once per command through `registry`'s docker credentials. */
export function registryHost(session: Session, tree: Tree, registry: string | undefined): Promise<string> {
  let host = hosts.get(session);
  if (!host) {
    host = learnHost(session, tree, registry);
    hosts.set(session, host);
  }
  return host;
}

async function learnHost(session: Session, tree: Tree, registry: string | undefined): Promise<string> {
  const config = await tree.dockerCredentials(registry, { readWrite: false, expirySeconds: 60 });
  const [host, entry] = Object.entries(config.auths ?? {})[0] ?? [];
  if (!host) throw new CliError('the docker-credentials response names no registry host');
  if (entry?.auth) await revokeToken(session.clientOptions(), revokeEndpoint(session), decodeAuth(entry.auth).password);
  return host;
}

/** Berth's revocation endpoint: `{api url}/v1/oauth/revoke`. */
export function revokeEndpoint(session: Session): string {
  return `${session.apiUrl}/v1/oauth/revoke`;
}

/**
 * `<host>/<name>` for each registry shown, as doctl's Endpoint column; when the host cannot be
 * learned (a token without registry:update, say) the column says so instead of failing the
 * listing.
 */
export async function endpointsFor(session: Session, tree: Tree, registryNames: readonly string[]): Promise<(name: string) => string> {
  if (registryNames.length === 0) return (name) => name;
  try {
    const host = await registryHost(session, tree, tree.name === 'registries' ? registryNames[0] : undefined);
    return (name) => `${host}/${name}`;
  } catch (error) {
    session.warn(`cannot learn the registry host (${error instanceof Error ? error.message : String(error)}); the Endpoint column shows <unknown>`);
    return (name) => `<unknown>/${name}`;
  }
}
