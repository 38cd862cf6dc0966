import { useEffect, useId, useState } from 'preact/hooks';
import { unwrap } from '../../../src/api-client/index.js';
import { CopyCommand } from '../components/copy-command.js';
import { ErrorMessage, Loading } from '../components/feedback.js';
import { Pager } from '../components/pager.js';
import { formatAgo, formatBytes, formatDate, plural } from '../format.js';
import { Link, paths } from '../router.js';
import { api } from '../session.js';
import type { PageLinks, Registry, Repository } from '../types.js';
import { TableScroll } from '../components/table-scroll.js';

const PAGE_SIZE = 20;
/** The API's largest page, for loading everything at once (search and sorting need all rows). */
const ALL_PAGE_SIZE = 200;

type SortKey = 'name' | 'tags' | 'manifests' | 'size' | 'updated';
const COLUMNS: { key: SortKey; label: string; numeric?: boolean }[] = [
  { key: 'name', label: 'Name' },
  { key: 'tags', label: 'Tags', numeric: true },
  { key: 'manifests', label: 'Manifests', numeric: true },
  { key: 'size', label: 'Size', numeric: true },
  { key: 'updated', label: 'Last updated' },
];

function sortValue(r: Repository, key: SortKey): string | number {
  switch (key) {
    case 'name':
      return r.name ?? '';
    case 'tags':
      return r.tag_count ?? 0;
    case 'manifests':
      return r.manifest_count ?? 0;
    case 'size':
      return r.storage_usage_bytes ?? 0;
    case 'updated':
      return Date.parse(r.latest_manifest?.updated_at ?? '') || 0;
  }
}

/** Repositories loaded so far, in the API's (name) order, and the token for the rest. */
interface Catalog {
  rows: Repository[];
  total: number;
  /** The API's page_token for what follows the loaded rows; undefined once all are loaded. */
  next: string | undefined;
}

function tokenOf(links: PageLinks | undefined): string | undefined {
  const next = links?.pages?.next;
  return next ? (new URL(next).searchParams.get('page_token') ?? undefined) : undefined;
}

/** Fetches rows after `catalog` with the API's page tokens until `enough` rows or the end. */
async function extend(registry: string, catalog: Catalog | undefined, enough: number, perPage: number, signal?: AbortSignal): Promise<Catalog> {
  let rows = catalog?.rows ?? [];
  let next = catalog?.next;
  let total = catalog?.total ?? 0;
  let first = catalog === undefined;
  while (first || (next !== undefined && rows.length < enough)) {
    const body = await unwrap(
      api.GET('/v2/registries/{registry_name}/repositoriesV2', {
        params: { path: { registry_name: registry }, query: first ? { per_page: perPage } : { per_page: perPage, page_token: next } },
        signal,
      }),
    );
    rows = [...rows, ...(body.repositories ?? [])];
    next = tokenOf(body.links);
    total = body.meta?.total ?? rows.length;
    first = false;
  }
  return { rows, total, next };
}

/** The registry's repositories: searchable, sortable, paged with the API's page tokens. */
export function RepositoriesPanel({ registry }: { registry: Registry }) {
  const name = registry.name!;
  const [catalog, setCatalog] = useState<Catalog>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [query, setQuery] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; descending: boolean }>({ key: 'name', descending: false });
  const [page, setPage] = useState(1);
  const searchId = useId();
  const headingId = useId();
  const needsAll = query.trim() !== '' || sort.key !== 'name' || sort.descending;

  const load = async (work: (current: Catalog | undefined) => Promise<Catalog>, then?: () => void) => {
    setBusy(true);
    setError(undefined);
    try {
      const result = await work(catalog);
      setCatalog(result);
      then?.();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    void load(() => extend(name, undefined, PAGE_SIZE, PAGE_SIZE));
  }, [name]);

  // Search and sorting look at every repository: fetch the rest once, page by page.
  useEffect(() => {
    if (needsAll && catalog && catalog.next !== undefined && !busy && error === undefined) void load((c) => extend(name, c, Infinity, ALL_PAGE_SIZE));
  }, [needsAll, catalog, busy]);

  const complete = catalog !== undefined && catalog.next === undefined;
  const filtered = (catalog?.rows ?? []).filter((r) => !query.trim() || (r.name ?? '').includes(query.trim().toLowerCase()));
  const ordered = needsAll
    ? [...filtered].sort((a, b) => {
        const x = sortValue(a, sort.key);
        const y = sortValue(b, sort.key);
        const order = x < y ? -1 : x > y ? 1 : (a.name ?? '').localeCompare(b.name ?? '');
        return sort.descending ? -order : order;
      })
    : filtered;
  const showing = needsAll && !complete ? undefined : ordered.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
  const pages = needsAll ? Math.max(1, Math.ceil(ordered.length / PAGE_SIZE)) : Math.max(1, Math.ceil((catalog?.total ?? 0) / PAGE_SIZE));

  const goTo = (target: number) => {
    if (!catalog) return;
    if (needsAll || target * PAGE_SIZE <= catalog.rows.length || catalog.next === undefined) setPage(target);
    // Not loaded yet: fetch with the page token, and turn the page only when it arrived.
    else void load((c) => extend(name, c, target * PAGE_SIZE, PAGE_SIZE), () => setPage(target));
  };

  const sortBy = (key: SortKey) => {
    setSort((s) => (s.key === key ? { key, descending: !s.descending } : { key, descending: key !== 'name' }));
    setPage(1);
  };

  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>Repositories</h2>
      {catalog && catalog.total === 0 ? (
        <EmptyRegistry endpoint={registry.endpoint ?? name} registry={name} />
      ) : (
        <>
          <div class="toolbar">
            <div class="field inline">
              <label for={searchId}>Search repositories</label>
              <input
                id={searchId}
                type="search"
                value={query}
                onInput={(e) => {
                  setQuery(e.currentTarget.value);
                  setPage(1);
                }}
                placeholder="name contains…"
                autocomplete="off"
                spellcheck={false}
              />
            </div>
            <p class="muted" aria-live="polite">
              {catalog &&
                (query.trim() && complete
                  ? `${plural(ordered.length, 'repository', 'repositories')} match “${query.trim()}”`
                  : `${plural(catalog.total, 'repository', 'repositories')}`)}
            </p>
          </div>
          {error !== undefined && (
            <ErrorMessage error={error} title="Could not load repositories">
              <button
                type="button"
                class="secondary small"
                onClick={() => {
                  setError(undefined);
                  // Nothing loaded yet: start over; otherwise the search/sort effect or the pager asks again.
                  if (!catalog) void load(() => extend(name, undefined, PAGE_SIZE, PAGE_SIZE));
                }}
              >
                Try again
              </button>
            </ErrorMessage>
          )}
          {(busy || !catalog) && !error && <Loading what={needsAll ? 'all repositories' : 'repositories'} />}
          {showing && (
            <TableScroll label="Repositories">
              <table>
                <thead>
                  <tr>
                    {COLUMNS.map((c) => (
                      <th
                        key={c.key}
                        scope="col"
                        class={c.numeric ? 'num' : undefined}
                        aria-sort={sort.key === c.key ? (sort.descending ? 'descending' : 'ascending') : undefined}
                      >
                        <button type="button" class="sort" onClick={() => sortBy(c.key)}>
                          {c.label}
                          <span aria-hidden="true" class="sort-mark">
                            {sort.key === c.key ? (sort.descending ? ' ▼' : ' ▲') : ''}
                          </span>
                        </button>
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {showing.length === 0 && (
                    <tr>
                      <td colSpan={COLUMNS.length}>No repository matches “{query.trim()}”.</td>
                    </tr>
                  )}
                  {showing.map((r) => (
                    <tr key={r.name}>
                      <th scope="row">
                        <Link href={paths.repository(name, r.name!)}>{r.name}</Link>
                        <NewestTags tags={r.latest_manifest?.tags ?? []} />
                      </th>
                      <td class="num">{r.tag_count}</td>
                      <td class="num">{r.manifest_count}</td>
                      <td class="num">{formatBytes(r.storage_usage_bytes)}</td>
                      <td title={formatDate(r.latest_manifest?.updated_at)}>{formatAgo(r.latest_manifest?.updated_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableScroll>
          )}
          <p class="muted small">Size is what the repository stores: its layers, configs and manifests, each counted once, until garbage collection frees what nothing uses.</p>
          {catalog && <Pager label="Repositories" page={page} pages={pages} onPage={goTo} busy={busy} />}
        </>
      )}
    </section>
  );
}

/** The tags of the most recently pushed manifest: "newest: v2, latest +3". */
function NewestTags({ tags }: { tags: string[] }) {
  if (tags.length === 0) return null;
  return (
    <div class="muted small">
      newest: {tags.slice(0, 2).join(', ')}
      {tags.length > 2 ? ` +${tags.length - 2}` : ''}
    </div>
  );
}

function EmptyRegistry({ endpoint, registry }: { endpoint: string; registry: string }) {
  return (
    <div class="card">
      <p>No repositories yet. Log in and push an image to create one:</p>
      <CopyCommand command={`docker tag my-image ${endpoint}/my-image:latest`} label="docker tag command" />
      <CopyCommand command={`docker push ${endpoint}/my-image:latest`} label="docker push command" />
      <p>
        See <Link href={paths.registry(registry, 'access')}>Access</Link> for logging in.
      </p>
    </div>
  );
}
