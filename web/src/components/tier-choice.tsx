import { formatBytes, formatCents, plural } from '../format.js';
import type { TierOption } from '../types.js';
import { describedBy, FieldError } from './feedback.js';

const REASONS: Record<string, string> = {
  OverRepositoryLimit: 'your team has more repositories than it includes',
  OverStorageLimit: 'your team stores more than it includes and it allows no overage',
};

/** Why a tier cannot be chosen, in words (the registry limit shows only as not eligible). */
export function ineligibility(tier: TierOption): string | undefined {
  if (tier.eligible !== false) return undefined;
  const reasons = (tier.eligibility_reasons ?? []).map((r) => REASONS[r] ?? r);
  return `Not available: ${reasons.length > 0 ? reasons.join('; ') : 'your team has more registries than it allows'}.`;
}

/** The subscription tiers from `options` as radio buttons; ineligible ones disabled with the reasons. */
export function TierChoice(props: { legend: string; name: string; tiers: TierOption[]; value: string; onChange: (slug: string) => void; error?: unknown; current?: string }) {
  const { legend, name, tiers, value, onChange, error, current } = props;
  const errorId = `${name}-error`;
  return (
    <fieldset class="tiers" aria-describedby={describedBy(error !== undefined && errorId)}>
      <legend>{legend}</legend>
      {tiers.map((t) => {
        const id = `${name}-${t.slug}`;
        const why = ineligibility(t);
        return (
          <div class={`tier${value === t.slug ? ' selected' : ''}`} key={t.slug}>
            <input
              type="radio"
              id={id}
              name={name}
              value={t.slug}
              checked={value === t.slug}
              disabled={why !== undefined}
              onChange={() => onChange(t.slug!)}
              aria-describedby={`${id}-details`}
            />
            <label for={id}>
              <strong>{t.name}</strong>
              {current === t.slug && <span class="badge">Current</span>}
              <span class="tier-price">{formatCents(t.monthly_price_in_cents)}/month</span>
            </label>
            <p id={`${id}-details`} class="tier-details">
              {t.included_repositories === 0 ? 'Unlimited repositories' : plural(t.included_repositories ?? 0, 'repository', 'repositories')}, {formatBytes(t.included_storage_bytes)}{' '}
              storage, {formatBytes(t.included_bandwidth_bytes)} transfer
              {t.allow_storage_overage ? `; extra storage ${formatCents(t.storage_overage_price_in_cents)}/GiB` : '; no storage beyond the allowance'}.
              {why && <span class="field-error"> {why}</span>}
            </p>
          </div>
        );
      })}
      <FieldError id={errorId} error={error} />
    </fieldset>
  );
}
