import { useEffect, useState } from 'preact/hooks';
import { unwrap } from '../../../src/api-client/index.js';
import { announce } from '../announce.js';
import { ErrorMessage, Loading } from '../components/feedback.js';
import { PageHeading } from '../components/page-heading.js';
import { TierChoice } from '../components/tier-choice.js';
import { UsageMeter } from '../components/usage-meter.js';
import { formatBytes, formatCents, formatDate, plural } from '../format.js';
import { api } from '../session.js';
import { useLoad } from '../use-load.js';

/** The team's subscription: what its tier includes, how much is used, and changing tier. */
export function SubscriptionPage() {
  const loaded = useLoad(async (signal) => {
    const [subscription, options, list] = await Promise.all([
      unwrap(api.GET('/v2/registries/subscription', { signal })),
      unwrap(api.GET('/v2/registries/options', { signal })),
      unwrap(api.GET('/v2/registries', { signal })),
    ]);
    const registries = list.registries ?? [];
    // The team's repository count: each registry's listing total (one small page each).
    const counts = await Promise.all(
      registries.map((r) =>
        unwrap(api.GET('/v2/registries/{registry_name}/repositoriesV2', { params: { path: { registry_name: r.name! }, query: { per_page: 1 } }, signal })),
      ),
    );
    return {
      subscription: subscription.subscription!,
      tiers: options.options?.subscription_tiers ?? [],
      storage: list.total_storage_usage_bytes ?? 0,
      registries: registries.length,
      repositories: counts.reduce((sum, c) => sum + (c.meta?.total ?? 0), 0),
    };
  }, []);
  const [choice, setChoice] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [changed, setChanged] = useState<string>();
  const data = loaded.data;
  const tier = data?.subscription.tier;

  useEffect(() => {
    if (tier?.slug) setChoice(tier.slug);
  }, [tier?.slug]);

  const change = async (event: Event) => {
    event.preventDefault();
    if (!choice || choice === tier?.slug) return;
    setBusy(true);
    setError(undefined);
    setChanged(undefined);
    try {
      const result = await unwrap(api.POST('/v2/registries/subscription', { body: { tier_slug: choice as 'basic' } }));
      await loaded.reload();
      const message = `Your team is now on the ${result.subscription?.tier?.name} tier.`;
      setChanged(message);
      announce(message);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <PageHeading title="Subscription" />
      {loaded.error !== undefined && <ErrorMessage error={loaded.error} title="Could not load the subscription" />}
      {loaded.loading && !data && <Loading what="the subscription" />}
      {data && tier && (
        <>
          <section class="card" aria-labelledby="current-heading">
            <h2 id="current-heading">{tier.name} tier</h2>
            <dl class="facts">
              <div>
                <dt>Price</dt>
                <dd>{formatCents(tier.monthly_price_in_cents)} per month</dd>
              </div>
              <div>
                <dt>Repositories</dt>
                <dd>
                  {plural(data.repositories, 'repository', 'repositories')} of{' '}
                  {tier.included_repositories === 0 ? 'unlimited' : plural(tier.included_repositories ?? 0, 'included', 'included')}
                </dd>
              </div>
              <div>
                <dt>Registries</dt>
                <dd>{data.registries}</dd>
              </div>
              <div>
                <dt>Included transfer</dt>
                <dd>{formatBytes(tier.included_bandwidth_bytes)} per month</dd>
              </div>
              <div>
                <dt>Storage beyond the allowance</dt>
                <dd>{tier.allow_storage_overage ? `${formatCents(tier.storage_overage_price_in_cents)} per GiB` : 'Not allowed'}</dd>
              </div>
              <div>
                <dt>Since</dt>
                <dd>{formatDate(data.subscription.updated_at)}</dd>
              </div>
            </dl>
            <UsageMeter used={data.storage} included={tier.included_storage_bytes ?? 0} overage={tier.allow_storage_overage ?? false} />
          </section>
          <section aria-labelledby="change-heading">
            <h2 id="change-heading">Change tier</h2>
            <form onSubmit={change}>
              <TierChoice legend="Tier" name="change-tier" tiers={data.tiers} value={choice} onChange={setChoice} error={error} current={tier.slug} />
              <div class="actions">
                <button type="submit" disabled={busy || !choice || choice === tier.slug}>
                  Change tier
                </button>
              </div>
              {changed && (
                <p class="message success" role="status">
                  {changed}
                </p>
              )}
            </form>
          </section>
        </>
      )}
    </>
  );
}
