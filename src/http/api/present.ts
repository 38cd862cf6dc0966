import type { Registry, Team } from '../../db/index.js';
import { DEFAULT_TIERS, isTierSlug, type Tier } from '../../registry/index.js';

/** RFC 3339 without fractional seconds, as DigitalOcean writes timestamps. */
export function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function tierOf(team: Team): Tier {
  return DEFAULT_TIERS[isTierSlug(team.tier) ? team.tier : 'basic'];
}

export function presentTier(tier: Tier) {
  return {
    name: tier.name,
    slug: tier.slug,
    included_repositories: tier.included_repositories,
    included_storage_bytes: tier.included_storage_bytes,
    allow_storage_overage: tier.allow_storage_overage,
    included_bandwidth_bytes: tier.included_bandwidth_bytes,
    monthly_price_in_cents: tier.monthly_price_in_cents,
    storage_overage_price_in_cents: tier.storage_overage_price_in_cents,
  };
}

export function presentSubscription(team: Team) {
  return { tier: presentTier(tierOf(team)), created_at: timestamp(team.created_at), updated_at: timestamp(team.subscription_updated_at) };
}

/** DigitalOcean's `Multiregistry` (no subscription). */
export function presentRegistry(registry: Registry) {
  return {
    name: registry.name,
    created_at: timestamp(registry.created_at),
    region: registry.region,
    storage_usage_bytes: registry.storage_usage_bytes,
    storage_usage_bytes_updated_at: new Date(registry.storage_usage_updated_at ?? registry.created_at).toISOString(),
  };
}

/** DigitalOcean's legacy `Registry`: the base fields plus the team's subscription. */
export function presentRegistryWithSubscription(registry: Registry, team: Team) {
  return { ...presentRegistry(registry), subscription: presentSubscription(team) };
}
