/** DigitalOcean's subscription tiers, with the reference's numbers. */
export interface Tier {
  name: string;
  slug: TierSlug;
  /** 0 means unlimited. */
  included_repositories: number;
  included_storage_bytes: number;
  allow_storage_overage: boolean;
  included_bandwidth_bytes: number;
  monthly_price_in_cents: number;
  storage_overage_price_in_cents: number;
  /** How many registries a team on this tier may have. */
  max_registries: number;
}

export const TIER_SLUGS = ['starter', 'basic', 'professional'] as const;
export type TierSlug = (typeof TIER_SLUGS)[number];

export const DEFAULT_TIERS: Record<TierSlug, Tier> = {
  starter: {
    name: 'Starter',
    slug: 'starter',
    included_repositories: 1,
    included_storage_bytes: 524_288_000,
    allow_storage_overage: false,
    included_bandwidth_bytes: 524_288_000,
    monthly_price_in_cents: 0,
    storage_overage_price_in_cents: 0,
    max_registries: 1,
  },
  basic: {
    name: 'Basic',
    slug: 'basic',
    included_repositories: 5,
    included_storage_bytes: 5_368_709_120,
    allow_storage_overage: true,
    included_bandwidth_bytes: 5_368_709_120,
    monthly_price_in_cents: 500,
    storage_overage_price_in_cents: 2,
    max_registries: 1,
  },
  professional: {
    name: 'Professional',
    slug: 'professional',
    included_repositories: 0,
    included_storage_bytes: 107_374_182_400,
    allow_storage_overage: true,
    included_bandwidth_bytes: 107_374_182_400,
    monthly_price_in_cents: 2000,
    storage_overage_price_in_cents: 2,
    max_registries: 10,
  },
};

export const DEFAULT_REGIONS = ['nyc3', 'sfo3', 'ams3', 'sgp1', 'fra1'] as const;

export function isTierSlug(value: unknown): value is TierSlug {
  return typeof value === 'string' && (TIER_SLUGS as readonly string[]).includes(value);
}

export type Tiers = Readonly<Record<TierSlug, Tier>>;

/** The reference's tiers with configured overrides applied. */
export function resolveTiers(overrides: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {}): Tiers {
  const out = {} as Record<TierSlug, Tier>;
  for (const slug of TIER_SLUGS) out[slug] = { ...DEFAULT_TIERS[slug], ...(overrides[slug] as Partial<Tier> | undefined), slug };
  return out;
}

export function tierOfTeam(tiers: Tiers, team: { tier: string }): Tier {
  return tiers[isTierSlug(team.tier) ? team.tier : 'basic'];
}
