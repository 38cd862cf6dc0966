import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { unwrap } from '../../../src/api-client/index.js';
import { announce } from '../announce.js';
import { ErrorMessage, Loading } from '../components/feedback.js';
import { Pager } from '../components/pager.js';
import { statusOf } from '../errors.js';
import { formatAgo, formatBytes, formatDate, plural } from '../format.js';
import { api } from '../session.js';
import type { GarbageCollection, GcType } from '../types.js';
import { useLoad } from '../use-load.js';
import { TableScroll } from '../components/table-scroll.js';

const TYPES: { type: GcType; label: string; description: string }[] = [
  { type: 'unreferenced blobs only', label: 'Unreferenced blobs only', description: 'Deletes layers and configs that no manifest uses any more. Manifests stay.' },
  {
    type: 'untagged manifests and unreferenced blobs',
    label: 'Untagged manifests and unreferenced blobs',
    description: 'Deletes manifests with no tag that no index or remaining manifest refers to, then the blobs nothing uses.',
  },
  { type: 'untagged manifests only', label: 'Untagged manifests only', description: 'Deletes untagged manifests that nothing refers to, and leaves blobs for a later run.' },
];
const HISTORY_PER_PAGE = 10;
const POLL_MS = 1000;
const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

function outcome(run: GarbageCollection): string {
  return `Garbage collection ${run.status}: ${plural(run.blobs_deleted ?? 0, 'blob')} deleted, ${formatBytes(run.freed_bytes ?? 0)} freed.`;
}

async function activeRun(registry: string, signal?: AbortSignal): Promise<GarbageCollection | null> {
  try {
    return (await unwrap(api.GET('/v2/registries/{registry_name}/garbage-collection', { params: { path: { registry_name: registry } }, signal }))).garbage_collection ?? null;
  } catch (err) {
    if (statusOf(err) === 404) return null; // none active: DigitalOcean answers 404
    throw err;
  }
}

/** Start a collection, watch it run (polling the active run), cancel it, and see past runs. */
export function GarbageCollectionPanel({ registry }: { registry: string }) {
  const [page, setPage] = useState(1);
  const history = useLoad(
    async (signal) => {
      const body = await unwrap(
        api.GET('/v2/registries/{registry_name}/garbage-collections', { params: { path: { registry_name: registry }, query: { page, per_page: HISTORY_PER_PAGE } }, signal }),
      );
      return { page, runs: body.garbage_collections ?? [], total: body.meta?.total ?? 0 };
    },
    [registry, page],
  );
  const active = useLoad((signal) => activeRun(registry, signal), [registry]);
  const [run, setRun] = useState<GarbageCollection | null>();
  const [type, setType] = useState<GcType>('unreferenced blobs only');
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<unknown>();
  const [pollError, setPollError] = useState<unknown>();
  const [finished, setFinished] = useState<string>();
  const ids = { heading: useId(), history: useId() };
  const watching = useRef<string | undefined>(undefined);

  useEffect(() => {
    if (active.data !== undefined) setRun(active.data);
  }, [active.data]);

  // Live status: poll the active run until there is none, then report how the run ended.
  useEffect(() => {
    if (!run || FINISHED.has(run.status ?? '')) return;
    watching.current = run.uuid;
    const timer = setTimeout(async () => {
      try {
        const now = await activeRun(registry);
        setPollError(undefined);
        if (now) {
          // The history lists the active run too: keep its status in step.
          if (now.status !== run.status) void history.reload();
          setRun(now);
          return;
        }
        const ended = (await unwrap(
          api.GET('/v2/registries/{registry_name}/garbage-collections', { params: { path: { registry_name: registry }, query: { page: 1, per_page: HISTORY_PER_PAGE } } }),
        )).garbage_collections?.find((r) => r.uuid === watching.current);
        setRun(null);
        if (ended) {
          setFinished(outcome(ended));
          announce(outcome(ended));
        }
        await history.reload();
      } catch (err) {
        setPollError(err);
        setRun({ ...run }); // try again after the next interval
      }
    }, POLL_MS);
    return () => clearTimeout(timer);
  }, [run]);

  const start = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setActionError(undefined);
    setFinished(undefined);
    try {
      const started = (await unwrap(api.POST('/v2/registries/{registry_name}/garbage-collection', { params: { path: { registry_name: registry } }, body: { type } })))
        .garbage_collection!;
      setRun(started);
      announce(`Garbage collection started: ${started.status}`);
      void history.reload();
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(false);
    }
  };

  const cancel = async () => {
    if (!run?.uuid) return;
    setBusy(true);
    setActionError(undefined);
    try {
      const updated = (await unwrap(
        api.PUT('/v2/registries/{registry_name}/garbage-collection/{garbage_collection_uuid}', {
          params: { path: { registry_name: registry, garbage_collection_uuid: run.uuid } },
          body: { cancel: true },
        }),
      )).garbage_collection!;
      setRun(updated);
      announce(`Garbage collection ${updated.status}`);
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(false);
    }
  };

  const current = run && !FINISHED.has(run.status ?? '') ? run : undefined;
  return (
    <>
      <section aria-labelledby={ids.heading}>
        <h2 id={ids.heading}>Garbage collection</h2>
        <p>
          Deleting tags and manifests does not free storage by itself: a garbage collection removes what nothing uses any more and reports what it freed.
          Anything pushed within the server’s grace period is kept, so pushes can go on while it runs — unless the server collects in DigitalOcean’s
          read-only mode, which refuses pushes until the run ends.
        </p>
        {active.error !== undefined && <ErrorMessage error={active.error} title="Could not check for a running garbage collection" />}
        {active.loading && run === undefined && <Loading what="the garbage collection status" />}
        {finished && (
          <p class="message success" role="status">
            {finished}
          </p>
        )}
        {current && (
          <div class="card active-run" aria-labelledby={`${ids.heading}-active`}>
            <h3 id={`${ids.heading}-active`}>Running now</h3>
            <dl class="facts inline">
              <div>
                <dt>Status</dt>
                <dd aria-live="polite" class="gc-status">
                  {current.status}
                </dd>
              </div>
              <div>
                <dt>Type</dt>
                <dd>{current.type}</dd>
              </div>
              <div>
                <dt>Started</dt>
                <dd title={formatDate(current.created_at)}>{formatAgo(current.created_at)}</dd>
              </div>
              <div>
                <dt>Blobs deleted</dt>
                <dd>{current.blobs_deleted ?? 0}</dd>
              </div>
              <div>
                <dt>Freed</dt>
                <dd>{formatBytes(current.freed_bytes ?? 0)}</dd>
              </div>
            </dl>
            {pollError !== undefined && <ErrorMessage error={pollError} title="Lost track of the run; trying again" />}
            <button type="button" class="danger" disabled={busy || current.status === 'cancelling'} onClick={() => void cancel()}>
              Cancel garbage collection
            </button>
          </div>
        )}
        {run === null && (
          <form onSubmit={start}>
            <fieldset>
              <legend>What to collect</legend>
              {TYPES.map((t) => (
                <div class="radio described" key={t.type}>
                  <input type="radio" id={`gc-${t.type.replaceAll(' ', '-')}`} name="gc-type" checked={type === t.type} onChange={() => setType(t.type)} aria-describedby={`gc-${t.type.replaceAll(' ', '-')}-desc`} />
                  <label for={`gc-${t.type.replaceAll(' ', '-')}`}>{t.label}</label>
                  <p id={`gc-${t.type.replaceAll(' ', '-')}-desc`} class="hint">
                    {t.description}
                  </p>
                </div>
              ))}
            </fieldset>
            <div class="actions">
              <button type="submit" disabled={busy}>
                Start garbage collection
              </button>
            </div>
          </form>
        )}
        {actionError !== undefined && <ErrorMessage error={actionError} title="The garbage collection was not changed" />}
      </section>
      <section aria-labelledby={ids.history}>
        <h2 id={ids.history}>History</h2>
        {history.error !== undefined && <ErrorMessage error={history.error} title="Could not load past runs" />}
        {history.loading && !history.data && <Loading what="past runs" />}
        {history.data && history.data.total === 0 && <p>No garbage collection has run on this registry yet.</p>}
        {history.data && history.data.total > 0 && (
          <>
            <TableScroll label="Past garbage collections">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Started</th>
                    <th scope="col">Type</th>
                    <th scope="col">Status</th>
                    <th scope="col" class="num">
                      Blobs deleted
                    </th>
                    <th scope="col" class="num">
                      Freed
                    </th>
                    <th scope="col">Last update</th>
                  </tr>
                </thead>
                <tbody>
                  {history.data.runs.map((r) => (
                    <tr key={r.uuid}>
                      <th scope="row" title={r.uuid}>
                        {formatDate(r.created_at)}
                      </th>
                      <td>{r.type}</td>
                      <td>
                        <span class={`status status-${(r.status ?? '').split(' ')[0]}`}>{r.status}</span>
                      </td>
                      <td class="num">{r.blobs_deleted}</td>
                      <td class="num">{formatBytes(r.freed_bytes)}</td>
                      <td title={formatDate(r.updated_at)}>{formatAgo(r.updated_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableScroll>
            <Pager
              label="History"
              page={history.data.page}
              pages={Math.max(1, Math.ceil(history.data.total / HISTORY_PER_PAGE))}
              onPage={(p) => (p === page ? void history.reload() : setPage(p))}
              busy={history.loading}
            />
          </>
        )}
      </section>
    </>
  );
}
