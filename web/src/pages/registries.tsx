import { unwrap } from '../../../src/api-client/index.js';
import { ErrorMessage, Loading } from '../components/feedback.js';
import { PageHeading } from '../components/page-heading.js';
import { UsageMeter } from '../components/usage-meter.js';
import { formatBytes, formatDate } from '../format.js';
import { Link, paths } from '../router.js';
import { api } from '../session.js';
import { useLoad } from '../use-load.js';
import { TableScroll } from '../components/table-scroll.js';

/** The team's registries with region and storage, and the storage allowance they share. */
export function RegistriesPage() {
  const loaded = useLoad(async (signal) => {
    const [list, subscription] = await Promise.all([
      unwrap(api.GET('/v2/registries', { signal })),
      unwrap(api.GET('/v2/registries/subscription', { signal })),
    ]);
    return { registries: list.registries ?? [], total: list.total_storage_usage_bytes ?? 0, tier: subscription.subscription?.tier };
  }, []);
  const { data, error, loading } = loaded;

  return (
    <>
      <div class="page-head">
        <PageHeading title="Registries" />
        <Link href={paths.createRegistry()} class="button">
          Create registry
        </Link>
      </div>
      {error !== undefined && <ErrorMessage error={error} title="Could not load your registries" />}
      {loading && !data && <Loading what="registries" />}
      {data && (
        <>
          {data.tier && (
            <section aria-labelledby="storage-heading" class="card">
              <h2 id="storage-heading">Storage</h2>
              <p>
                Your team is on the <strong>{data.tier.name}</strong> tier; its registries share one storage allowance.{' '}
                <Link href={paths.subscription()}>Manage subscription</Link>
              </p>
              <UsageMeter used={data.total} included={data.tier.included_storage_bytes ?? 0} overage={data.tier.allow_storage_overage ?? false} />
            </section>
          )}
          <section aria-labelledby="list-heading">
            <h2 id="list-heading">Your registries</h2>
            {data.registries.length === 0 ? (
              <p>
                You have no registry yet. <Link href={paths.createRegistry()}>Create your first registry</Link> to push images to it.
              </p>
            ) : (
              <TableScroll label="Your registries">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Region</th>
                      <th scope="col">Tier</th>
                      <th scope="col" class="num">
                        Storage used
                      </th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.registries.map((r) => (
                      <tr key={r.name}>
                        <th scope="row">
                          <Link href={paths.registry(r.name!)}>{r.name}</Link>
                          <div class="muted small mono">{r.endpoint}</div>
                        </th>
                        <td>{r.region}</td>
                        <td>{r.subscription?.tier?.name}</td>
                        <td class="num">{formatBytes(r.storage_usage_bytes)}</td>
                        <td>{formatDate(r.created_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableScroll>
            )}
          </section>
        </>
      )}
    </>
  );
}
