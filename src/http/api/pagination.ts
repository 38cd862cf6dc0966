import type { FastifyRequest } from 'fastify';

/**
 * The base of a request's page links: its route with each parameter re-encoded, rather than
 * the path as the client wrote it, so nothing the client sent lands in a link unescaped.
 */
export function requestPath(req: FastifyRequest): string {
  const params = req.params as Record<string, string>;
  return (req.routeOptions.url ?? '/').replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
}

/** DigitalOcean-style page links: absolute URLs built from the public API URL. */
export interface PageLinks {
  pages?: { first?: string; prev?: string; next?: string; last?: string };
}

export function pageCount(total: number, perPage: number): number {
  return Math.max(1, Math.ceil(total / perPage));
}

/**
 * Only the links that make sense: none for a single page, no first/prev on the first page,
 * no next/last on the last. `extra` adds parameters to the `next` link (e.g. page_token).
 * `more` says whether anything follows this page when page numbers cannot tell (a keyset
 * page: rows added or removed before the cursor shift the numbering, not what comes next).
 */
export function pageLinks(apiUrl: string, path: string, page: number, perPage: number, total: number, extra: Record<string, string> = {}, more?: boolean): PageLinks {
  let last = pageCount(total, perPage);
  const hasNext = more ?? page < last;
  if (hasNext) last = Math.max(last, page + 1);
  if (!hasNext && page <= 1) return {};
  const url = (p: number, params: Record<string, string> = {}) => {
    const query = new URLSearchParams({ page: String(p), ...params, per_page: String(perPage) });
    return `${apiUrl}${path}?${query}`;
  };
  const pages: NonNullable<PageLinks['pages']> = {};
  if (page > 1) {
    pages.first = url(1);
    pages.prev = url(Math.min(page - 1, last));
  }
  if (hasNext) {
    pages.next = url(page + 1, extra);
    pages.last = url(last);
  }
  return { pages };
}

/** Opaque keyset cursor for repositoriesV2: the last name served, base64url-encoded. */
export function encodePageToken(lastName: string): string {
  return Buffer.from(JSON.stringify({ after: lastName })).toString('base64url');
}

export function decodePageToken(token: string): string | undefined {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    return typeof value.after === 'string' ? value.after : undefined;
  } catch {
    return undefined;
  }
}
