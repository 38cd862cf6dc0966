import { AppError } from '../../errors/index.js';
import { MediaType } from '../../oci/index.js';
import { checkDigest } from './blobs.js';
import { repoPath, type OciRequest } from './request.js';

/** `n` and `last` as the spec defines them for tags and the catalog. */
export function pagination(query: URLSearchParams): { n?: number; last?: string } {
  const n = query.get('n');
  const last = query.get('last');
  const options: { n?: number; last?: string } = {};
  if (n !== null && n !== '') {
    if (!/^\d+$/.test(n) || Number(n) > 100_000) throw new AppError('PAGINATION_NUMBER_INVALID', `n must be an integer from 0 to 100000, not "${n}"`);
    options.n = Number(n);
  }
  if (last !== null && last !== '') options.last = last;
  return options;
}

export function nextLink(path: string, n: number, last: string): string {
  return `<${path}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"`;
}

export async function listTags(r: OciRequest): Promise<void> {
  const options = pagination(r.query);
  const repository = await r.ctx.repositories.find(r.registry.id, r.name.path);
  if (!repository) throw new AppError('NAME_UNKNOWN', `repository ${r.name.full} is not known`, { detail: { name: r.name.full } });
  const page = options.n === 0 ? { items: [], more: false } : await r.ctx.listings.tags(repository.id, options);
  if (page.more) r.reply.header('Link', nextLink(`${repoPath(r.name)}/tags/list`, options.n!, page.items.at(-1)!));
  r.reply.status(200).send({ name: r.name.full, tags: page.items });
}

export async function listReferrers(r: OciRequest, digest: string): Promise<void> {
  checkDigest(digest);
  const artifactType = r.query.get('artifactType') ?? undefined;
  const repository = await r.ctx.repositories.find(r.registry.id, r.name.path);
  const manifests = repository ? await r.ctx.manifests.referrers(repository.id, digest, artifactType) : [];
  if (artifactType !== undefined) r.reply.header('OCI-Filters-Applied', 'artifactType');
  r.reply
    .status(200)
    .header('Content-Type', MediaType.ociIndex)
    .send(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests })));
}
