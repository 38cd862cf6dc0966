import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Registry } from '../../db/index.js';
import type { RepositoryName } from '../../oci/index.js';
import type { RegistryCaller } from './auth.js';

/** What every OCI handler receives: the parsed name, the caller, the owning registry. */
export interface OciRequest {
  ctx: AppContext;
  req: FastifyRequest;
  reply: FastifyReply;
  name: RepositoryName;
  caller: RegistryCaller;
  registry: Registry;
  query: URLSearchParams;
}

/** Path prefix for URLs we hand back (Location, Link). */
export function repoPath(name: RepositoryName): string {
  return `/v2/${name.full}`;
}
