import { useEffect, useRef, useState } from 'preact/hooks';
import { unwrap } from '../../../src/api-client/index.js';
import { announce } from '../announce.js';
import { describedBy, ErrorMessage, FieldError, Loading } from '../components/feedback.js';
import { PageHeading } from '../components/page-heading.js';
import { TierChoice } from '../components/tier-choice.js';
import { fieldOf, messageOf, statusOf } from '../errors.js';
import { Link, navigate, paths } from '../router.js';
import { api } from '../session.js';
import { useLoad } from '../use-load.js';

type NameCheck = { state: 'idle' } | { state: 'checking' } | { state: 'available'; name: string } | { state: 'refused'; message: string };

/** Checks a name with validate-name while the person types (after a pause), newest answer wins. */
function useNameCheck(name: string): NameCheck {
  const [check, setCheck] = useState<NameCheck>({ state: 'idle' });
  const sequence = useRef(0);
  useEffect(() => {
    const mine = ++sequence.current;
    if (!name) {
      setCheck({ state: 'idle' });
      return;
    }
    setCheck({ state: 'checking' });
    const timer = setTimeout(async () => {
      try {
        await unwrap(api.POST('/v2/registries/validate-name', { body: { name } }));
        if (mine === sequence.current) setCheck({ state: 'available', name });
      } catch (err) {
        if (mine === sequence.current) setCheck({ state: 'refused', message: messageOf(err) });
      }
    }, 300);
    return () => clearTimeout(timer);
  }, [name]);
  return check;
}

/** Create a registry: a name checked as you type, a region and (for the first one) a tier, all from the API. */
export function CreateRegistryPage() {
  const loaded = useLoad(async (signal) => {
    const [options, list] = await Promise.all([
      unwrap(api.GET('/v2/registries/options', { signal })),
      unwrap(api.GET('/v2/registries', { signal })),
    ]);
    return { regions: options.options?.available_regions ?? [], tiers: options.options?.subscription_tiers ?? [], registries: list.registries ?? [] };
  }, []);
  const [name, setName] = useState('');
  const [region, setRegion] = useState('');
  const [tier, setTier] = useState('');
  const [errors, setErrors] = useState<{ name?: unknown; region?: unknown; tier?: unknown; form?: unknown }>({});
  const [busy, setBusy] = useState(false);
  const check = useNameCheck(name);
  const data = loaded.data;
  const first = data !== undefined && data.registries.length === 0;
  const currentTier = data?.registries[0]?.subscription?.tier;

  useEffect(() => {
    if (!data) return;
    setRegion((r) => r || data.regions[0] || '');
    setTier((t) => t || (data.tiers.find((x) => x.slug === 'basic' && x.eligible !== false) ?? data.tiers.find((x) => x.eligible !== false))?.slug || '');
  }, [data]);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (!name) {
      setErrors({ name: 'Enter a name for the registry.' });
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      const created = await unwrap(
        api.POST('/v2/registries', { body: { name, region: region as never, ...(first && tier ? { subscription_tier_slug: tier as 'basic' } : {}) } }),
      );
      announce(`Created registry ${created.registry?.name ?? name}`);
      navigate(paths.registry(created.registry?.name ?? name));
    } catch (err) {
      const field = fieldOf(err, ['name', 'region', 'subscription_tier_slug']);
      if (field === 'name' || statusOf(err) === 409) setErrors({ name: err });
      else if (field === 'region') setErrors({ region: err });
      else if (field === 'subscription_tier_slug' || statusOf(err) === 412) setErrors({ tier: err });
      else setErrors({ form: err });
      setBusy(false);
    }
  };

  const nameError = errors.name ?? (check.state === 'refused' ? check.message : undefined);
  return (
    <section class="narrow">
      <PageHeading title="Create a registry" />
      {loaded.error !== undefined && <ErrorMessage error={loaded.error} title="Could not load the registry options" />}
      {loaded.loading && !data && <Loading what="regions and tiers" />}
      {data && (
        <form onSubmit={submit} noValidate>
          <div class="field">
            <label for="registry-name">Registry name</label>
            <input
              id="registry-name"
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
              autocomplete="off"
              spellcheck={false}
              autoCapitalize="off"
              maxLength={63}
              aria-invalid={nameError ? true : undefined}
              aria-describedby={describedBy('registry-name-hint', 'registry-name-check', nameError !== undefined && 'registry-name-error')}
            />
            <p id="registry-name-hint" class="hint">
              Lowercase letters, digits and hyphens, starting with a letter and ending with a letter or digit; at most 63 characters. It becomes part of
              every image name.
            </p>
            <p id="registry-name-check" class="hint" aria-live="polite">
              {check.state === 'checking' && 'Checking the name…'}
              {check.state === 'available' && <span class="ok">“{check.name}” is available.</span>}
            </p>
            <FieldError id="registry-name-error" error={nameError} />
          </div>
          <div class="field">
            <label for="registry-region">Region</label>
            <select
              id="registry-region"
              value={region}
              onChange={(e) => setRegion(e.currentTarget.value)}
              aria-invalid={errors.region ? true : undefined}
              aria-describedby={describedBy(errors.region !== undefined && 'registry-region-error')}
            >
              {data.regions.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
            <FieldError id="registry-region-error" error={errors.region} />
          </div>
          {first ? (
            <TierChoice legend="Subscription tier" name="tier" tiers={data.tiers} value={tier} onChange={setTier} error={errors.tier} />
          ) : (
            <div class="field">
              <p>
                Your team is on the <strong>{currentTier?.name}</strong> tier, which all its registries share.{' '}
                <Link href={paths.subscription()}>Change tier</Link>
              </p>
              <FieldError id="registry-tier-error" error={errors.tier} />
            </div>
          )}
          {errors.form !== undefined && <ErrorMessage error={errors.form} title="The registry was not created" />}
          <div class="actions">
            <button type="submit" disabled={busy}>
              Create registry
            </button>
            <Link href={paths.registries()} class="button secondary">
              Cancel
            </Link>
          </div>
        </form>
      )}
    </section>
  );
}
