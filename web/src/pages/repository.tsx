import { useEffect, useId, useState } from 'preact/hooks';
import { unwrap } from '../../../src/api-client/index.js';
import { announce } from '../announce.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { CopyCommand } from '../components/copy-command.js';
import { ErrorMessage, Loading } from '../components/feedback.js';
import { ManifestTree } from '../components/manifest-tree.js';
import { PageHeading } from '../components/page-heading.js';
import { Pager } from '../components/pager.js';
import { formatAgo, formatBytes, formatDate, plural, shortDigest } from '../format.js';
import { Link, navigate, paths } from '../router.js';
import { api } from '../session.js';
import type { Manifest, Tag } from '../types.js';
import { useLoad } from '../use-load.js';
import { TableScroll } from '../components/table-scroll.js';

const TAGS_PER_PAGE = 20;
const MANIFESTS_PER_PAGE = 100;

type Pending = { kind: 'tag'; tag: Tag } | { kind: 'manifest'; manifest: Manifest } | { kind: 'repository' };

/** One repository: pull commands, its tags, its manifests as a tree, and deleting them. */
export function RepositoryPage({ registry, repository }: { registry: string; repository: string }) {
  const [tagPage, setTagPage] = useState(1);
  const [manifestPages, setManifestPages] = useState(1);
  const [pending, setPending] = useState<Pending>();
  const path = { registry_name: registry, repository_name: repository };

  // Everything on the page loads together, so it always shows one consistent moment.
  const loaded = useLoad(
    async (signal) => {
      const [reg, tags, ...manifestBodies] = await Promise.all([
        unwrap(api.GET('/v2/registries/{registry_name}', { params: { path: { registry_name: registry } }, signal })),
        unwrap(api.GET('/v2/registries/{registry_name}/repositories/{repository_name}/tags', { params: { path, query: { page: tagPage, per_page: TAGS_PER_PAGE } }, signal })),
        ...Array.from({ length: manifestPages }, (_, i) =>
          unwrap(api.GET('/v2/registries/{registry_name}/repositories/{repository_name}/digests', { params: { path, query: { page: i + 1, per_page: MANIFESTS_PER_PAGE } }, signal })),
        ),
      ]);
      const manifests = manifestBodies.flatMap((b) => b.manifests ?? []);
      return {
        endpoint: reg.registry?.endpoint ?? registry,
        tagPage,
        tags: tags.tags ?? [],
        tagTotal: tags.meta?.total ?? 0,
        manifests,
        manifestTotal: manifestBodies[0]?.meta?.total ?? manifests.length,
      };
    },
    [registry, repository, tagPage, manifestPages],
  );
  const data = loaded.data;
  const image = `${data?.endpoint ?? registry}/${repository}`;

  const remove = async () => {
    if (!pending) return;
    if (pending.kind === 'tag') {
      await unwrap(api.DELETE('/v2/registries/{registry_name}/repositories/{repository_name}/tags/{repository_tag}', { params: { path: { ...path, repository_tag: pending.tag.tag! } } }));
      announce(`Deleted tag ${pending.tag.tag}`);
    } else if (pending.kind === 'manifest') {
      await unwrap(
        api.DELETE('/v2/registries/{registry_name}/repositories/{repository_name}/digests/{manifest_digest}', { params: { path: { ...path, manifest_digest: pending.manifest.digest! } } }),
      );
      announce(`Deleted manifest ${shortDigest(pending.manifest.digest!)}`);
    } else {
      await unwrap(api.DELETE('/v2/registries/{registry_name}/repositories/{repository_name}', { params: { path } }));
      announce(`Deleted repository ${repository}`);
      navigate(paths.registry(registry));
      return;
    }
    // Deleting the last tag on a page would leave it empty: step back.
    if (pending.kind === 'tag' && data && data.tags.length === 1 && data.tagPage > 1) setTagPage(data.tagPage - 1);
    else await loaded.reload();
  };

  return (
    <>
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <ol>
          <li>
            <Link href={paths.registries()}>Registries</Link>
          </li>
          <li>
            <Link href={paths.registry(registry)}>{registry}</Link>
          </li>
          <li>
            <span aria-current="page">{repository}</span>
          </li>
        </ol>
      </nav>
      <PageHeading title={`Repository ${repository} · ${registry}`}>{repository}</PageHeading>
      {loaded.error !== undefined && (
        <ErrorMessage error={loaded.error} title="Could not load this repository">
          <button type="button" class="secondary small" onClick={() => void loaded.reload()}>
            Try again
          </button>
        </ErrorMessage>
      )}
      {loaded.loading && !data && <Loading what="the repository" />}
      {data && (
        <>
          <p class="muted">
            {plural(data.tagTotal, 'tag')}, {plural(data.manifestTotal, 'manifest')} in <span class="mono">{image}</span>
          </p>
          <PullCommands image={image} tags={data.tags} newest={data.manifests[0]?.digest} />
          <TagsSection
            tags={data.tags}
            total={data.tagTotal}
            page={data.tagPage}
            onPage={(p) => (p === tagPage ? void loaded.reload() : setTagPage(p))}
            busy={loaded.loading} image={image} onDelete={(tag) => setPending({ kind: 'tag', tag })} />
          <section aria-labelledby="manifests-heading">
            <h2 id="manifests-heading">Manifests</h2>
            <p class="muted small">
              Multi-architecture indexes list their platform images; signatures, SBOMs and attestations appear under what they refer to.
            </p>
            <ManifestTree manifests={data.manifests} onDelete={(manifest) => setPending({ kind: 'manifest', manifest })} />
            {data.manifests.length < data.manifestTotal && (
              <button type="button" class="secondary" disabled={loaded.loading} onClick={() => {
                  const want = Math.ceil(data.manifests.length / MANIFESTS_PER_PAGE) + 1;
                  if (want === manifestPages) void loaded.reload();
                  else setManifestPages(want);
                }}
              >
                Load more manifests ({data.manifests.length} of {data.manifestTotal} shown)
              </button>
            )}
          </section>
          <section aria-labelledby="danger-heading" class="danger-zone">
            <h2 id="danger-heading">Delete this repository</h2>
            <p>Deletes every tag and manifest in {repository}. Their storage is reclaimed by the next garbage collection.</p>
            <button type="button" class="danger" onClick={() => setPending({ kind: 'repository' })}>
              Delete repository
            </button>
          </section>
        </>
      )}
      {pending && <DeleteDialog pending={pending} repository={repository} onConfirm={remove} onClose={() => setPending(undefined)} />}
    </>
  );
}

function DeleteDialog({ pending, repository, onConfirm, onClose }: { pending: Pending; repository: string; onConfirm: () => Promise<void>; onClose: () => void }) {
  if (pending.kind === 'tag') {
    return (
      <ConfirmDialog title={`Delete tag ${pending.tag.tag}?`} confirmLabel="Delete tag" onConfirm={onConfirm} onClose={onClose}>
        <p>
          The tag <strong>{pending.tag.tag}</strong> is removed from {repository}. The manifest it points at (<code>{shortDigest(pending.tag.manifest_digest ?? '')}</code>)
          stays, with any other tags.
        </p>
      </ConfirmDialog>
    );
  }
  if (pending.kind === 'manifest') {
    const tags = pending.manifest.tags ?? [];
    return (
      <ConfirmDialog title={`Delete manifest ${shortDigest(pending.manifest.digest!)}?`} confirmLabel="Delete manifest" onConfirm={onConfirm} onClose={onClose}>
        <p>
          The manifest <code class="break">{pending.manifest.digest}</code> is deleted
          {tags.length > 0 ? (
            <>
              {' '}
              with its {plural(tags.length, 'tag')} <strong>{tags.join(', ')}</strong>
            </>
          ) : null}
          . Anyone pulling it by digest or tag will get “manifest unknown”.
        </p>
      </ConfirmDialog>
    );
  }
  return (
    <ConfirmDialog title={`Delete repository ${repository}?`} confirmLabel="Delete repository" typeToConfirm={repository} onConfirm={onConfirm} onClose={onClose}>
      <p>Every tag and manifest in {repository} is deleted. This cannot be undone.</p>
    </ConfirmDialog>
  );
}

function PullCommands({ image, tags, newest }: { image: string; tags: Tag[]; newest: string | undefined }) {
  const [tag, setTag] = useState(tags[0]?.tag ?? '');
  const selectId = useId();
  useEffect(() => {
    if (!tags.some((t) => t.tag === tag)) setTag(tags[0]?.tag ?? '');
  }, [tags]);
  const reference = tag ? `${image}:${tag}` : newest ? `${image}@${newest}` : undefined;
  if (!reference) return null;
  return (
    <section aria-labelledby="pull-heading" class="card">
      <h2 id="pull-heading">Pull</h2>
      {tags.length > 1 && (
        <div class="field inline">
          <label for={selectId}>Tag to pull</label>
          <select id={selectId} value={tag} onChange={(e) => setTag(e.currentTarget.value)}>
            {tags.map((t) => (
              <option key={t.tag} value={t.tag}>
                {t.tag}
              </option>
            ))}
          </select>
        </div>
      )}
      <CopyCommand command={`docker pull ${reference}`} label="docker pull command" />
      <CopyCommand command={`podman pull ${reference}`} label="podman pull command" />
    </section>
  );
}

function TagsSection(props: { tags: Tag[]; total: number; page: number; onPage: (p: number) => void; busy: boolean; image: string; onDelete: (t: Tag) => void }) {
  const { tags, total, page, onPage, busy, onDelete } = props;
  return (
    <section aria-labelledby="tags-heading">
      <h2 id="tags-heading">Tags</h2>
      {total === 0 ? (
        <p>No tags: the manifests below can be pulled by digest.</p>
      ) : (
        <>
          <TableScroll label="Tags">
            <table>
              <thead>
                <tr>
                  <th scope="col">Tag</th>
                  <th scope="col">Manifest</th>
                  <th scope="col" class="num">
                    Compressed
                  </th>
                  <th scope="col" class="num">
                    Uncompressed
                  </th>
                  <th scope="col">Updated</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {tags.map((t) => (
                  <tr key={t.tag}>
                    <th scope="row">{t.tag}</th>
                    <td class="mono small" title={t.manifest_digest}>
                      {shortDigest(t.manifest_digest ?? '')}
                    </td>
                    <td class="num">{formatBytes(t.compressed_size_bytes)}</td>
                    <td class="num">{t.size_bytes ? formatBytes(t.size_bytes) : 'being measured'}</td>
                    <td title={formatDate(t.updated_at)}>{formatAgo(t.updated_at)}</td>
                    <td>
                      <button type="button" class="danger small" onClick={() => onDelete(t)} aria-label={`Delete tag ${t.tag}`}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
          <Pager label="Tags" page={page} pages={Math.max(1, Math.ceil(total / TAGS_PER_PAGE))} onPage={onPage} busy={busy} />
        </>
      )}
    </section>
  );
}
