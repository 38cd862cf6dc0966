import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors/index.js';
import { authenticate, challenge } from './auth.js';
import { nextLink, pagination } from './listings.js';

/** `GET /v2/_catalog`: only repositories of registries the caller may see. */
export async function catalog(ctx: AppContext, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const scope = 'registry:catalog:*';
  const caller = await authenticate(ctx, req, scope);
  if (!(await caller.canListCatalog())) {
    throw new AppError('UNAUTHORIZED', 'the token does not grant catalog access', {
      headers: { 'WWW-Authenticate': challenge(ctx, req, scope, 'insufficient_scope') },
    });
  }
  const query = new URLSearchParams((req.raw.url ?? '').split('?')[1] ?? '');
  const options = pagination(query);
  const registries = (await ctx.registries.listForTeam(caller.teamId)).filter((r) => caller.registryName === null || r.name === caller.registryName);
  const page = await ctx.listings.catalog(
    registries.map((r) => r.id),
    options,
  );
  if (page.more) reply.header('Link', nextLink('/v2/_catalog', options.n!, page.items.at(-1)!));
  reply.status(200).send({ repositories: page.items });
}
