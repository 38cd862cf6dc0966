/**
 * The tables of `berth registry …` and `berth registries …`, with doctl's column keys, headers
 * and cell formats (commands/displayers/registry.go), plus Berth's own: subscription and usage.
 */
import type { GarbageCollection, Registry, RepositoryManifest, RepositoryTag, RepositoryV1, RepositoryV2, Subscription, SubscriptionTier } from '../api-types.js';
import type { Displayable } from './display.js';
import { goBool, goFixed2, goInt, goList, goTime, goTimePointer, humanBytes } from './go-format.js';

/** Registries: `Name, Endpoint, Region`; the endpoint is `<registry host>/<name>`. */
export function registryDisplayer(registries: readonly Registry[], endpoint: (name: string) => string): Displayable {
  return {
    cols: ['Name', 'Endpoint', 'Region'],
    colMap: { Name: 'Name', Endpoint: 'Endpoint', Region: 'Region slug' },
    rows: () => registries.map((r) => ({ Name: r.name ?? '', Endpoint: endpoint(r.name ?? ''), Region: r.region ?? '' })),
    json: () => registries,
  };
}

/** The hidden v1 repository list: `Name, LatestTag, TagCount, UpdatedAt`. */
export function repositoryDisplayer(repositories: readonly RepositoryV1[]): Displayable {
  return {
    cols: ['Name', 'LatestTag', 'TagCount', 'UpdatedAt'],
    colMap: { Name: 'Name', LatestTag: 'Latest Tag', TagCount: 'Tag Count', UpdatedAt: 'Updated At' },
    rows: () =>
      repositories.map((r) => ({
        Name: r.name ?? '',
        LatestTag: r.latest_tag?.tag ?? '',
        TagCount: goInt(r.tag_count),
        UpdatedAt: goTime(r.latest_tag?.updated_at),
      })),
    json: () => repositories,
  };
}

/** `list-v2`: the latest manifest's digest and first tag (`<none>` when untagged). */
export function repositoryV2Displayer(repositories: readonly RepositoryV2[]): Displayable {
  return {
    cols: ['Name', 'LatestManifest', 'LatestTag', 'TagCount', 'ManifestCount', 'UpdatedAt'],
    colMap: {
      Name: 'Name',
      LatestManifest: 'Latest Manifest',
      LatestTag: 'Latest Tag',
      TagCount: 'Tag Count',
      ManifestCount: 'Manifest Count',
      UpdatedAt: 'Updated At',
    },
    rows: () =>
      repositories.map((r) => ({
        Name: r.name ?? '',
        LatestManifest: r.latest_manifest?.digest ?? '',
        LatestTag: r.latest_manifest?.tags?.[0] ?? '<none>',
        TagCount: goInt(r.tag_count),
        ManifestCount: goInt(r.manifest_count),
        UpdatedAt: r.latest_manifest ? goTime(r.latest_manifest.updated_at) : goTimePointer(undefined),
      })),
    json: () => repositories,
  };
}

export function repositoryTagDisplayer(tags: readonly RepositoryTag[]): Displayable {
  return {
    cols: ['Tag', 'CompressedSizeBytes', 'UpdatedAt', 'ManifestDigest'],
    colMap: { Tag: 'Tag', CompressedSizeBytes: 'Compressed Size', UpdatedAt: 'Updated At', ManifestDigest: 'Manifest Digest' },
    rows: () =>
      tags.map((t) => ({
        Tag: t.tag ?? '',
        CompressedSizeBytes: humanBytes(t.compressed_size_bytes),
        UpdatedAt: goTime(t.updated_at),
        ManifestDigest: t.manifest_digest ?? '',
      })),
    json: () => tags,
  };
}

export function repositoryManifestDisplayer(manifests: readonly RepositoryManifest[]): Displayable {
  return {
    cols: ['Digest', 'CompressedSizeBytes', 'SizeBytes', 'UpdatedAt', 'Tags'],
    colMap: { Digest: 'Manifest Digest', CompressedSizeBytes: 'Compressed Size', SizeBytes: 'Uncompressed Size', UpdatedAt: 'Updated At', Tags: 'Tags' },
    rows: () =>
      manifests.map((m) => ({
        Digest: m.digest ?? '',
        CompressedSizeBytes: humanBytes(m.compressed_size_bytes),
        SizeBytes: humanBytes(m.size_bytes),
        UpdatedAt: goTime(m.updated_at),
        Tags: goList(m.tags),
      })),
    json: () => manifests,
  };
}

/** Garbage collections; like doctl, `Bytes Freed` is the exact count. */
export function garbageCollectionDisplayer(runs: readonly GarbageCollection[]): Displayable {
  return {
    cols: ['UUID', 'RegistryName', 'Status', 'CreatedAt', 'UpdatedAt', 'BlobsDeleted', 'FreedBytes'],
    colMap: {
      UUID: 'UUID',
      RegistryName: 'Registry Name',
      Status: 'Status',
      CreatedAt: 'Created At',
      UpdatedAt: 'Updated At',
      BlobsDeleted: 'Blobs Deleted',
      FreedBytes: 'Bytes Freed',
    },
    rows: () =>
      runs.map((g) => ({
        UUID: g.uuid ?? '',
        RegistryName: g.registry_name ?? '',
        Status: g.status ?? '',
        CreatedAt: goTime(g.created_at),
        UpdatedAt: goTime(g.updated_at),
        BlobsDeleted: goInt(g.blobs_deleted),
        FreedBytes: goInt(g.freed_bytes),
      })),
    json: () => runs,
  };
}

const TIER_COLUMNS = {
  Name: 'Name',
  Slug: 'Slug',
  IncludedRepositories: 'Included Repositories',
  IncludedStorageBytes: 'Included Storage',
  AllowStorageOverage: 'Storage Overage Allowed',
  IncludedBandwidthBytes: 'Included Bandwidth',
  MonthlyPriceInCents: 'Monthly Price',
} as const;

function tierCells(tier: Omit<SubscriptionTier, 'eligible' | 'eligibility_reasons'> | undefined): Record<keyof typeof TIER_COLUMNS, string> {
  return {
    Name: tier?.name ?? '',
    Slug: tier?.slug ?? '',
    IncludedRepositories: goInt(tier?.included_repositories),
    IncludedStorageBytes: humanBytes(tier?.included_storage_bytes),
    AllowStorageOverage: goBool(tier?.allow_storage_overage),
    IncludedBandwidthBytes: humanBytes(tier?.included_bandwidth_bytes),
    // doctl: fmt.Sprintf("$%d", cents/100), integer division.
    MonthlyPriceInCents: `$${Math.trunc((tier?.monthly_price_in_cents ?? 0) / 100)}`,
  };
}

export function subscriptionTiersDisplayer(tiers: readonly SubscriptionTier[]): Displayable {
  return {
    cols: [...Object.keys(TIER_COLUMNS), 'Eligible', 'EligibilityReasons'],
    colMap: { ...TIER_COLUMNS, Eligible: 'Eligible?', EligibilityReasons: 'Not Eligible Because' },
    rows: () => tiers.map((t) => ({ ...tierCells(t), Eligible: goBool(t.eligible), EligibilityReasons: goList(t.eligibility_reasons) })),
    json: () => tiers,
  };
}

export function availableRegionsDisplayer(regions: readonly string[]): Displayable {
  return {
    cols: ['Slug'],
    colMap: { Slug: 'Region Slug' },
    rows: () => regions.map((r) => ({ Slug: r })),
    json: () => regions,
  };
}

/** Berth's `subscription get|update`: the tier's columns and when the subscription changed. */
export function subscriptionDisplayer(subscription: Subscription): Displayable {
  return {
    cols: [...Object.keys(TIER_COLUMNS), 'CreatedAt', 'UpdatedAt'],
    colMap: { ...TIER_COLUMNS, CreatedAt: 'Created At', UpdatedAt: 'Updated At' },
    rows: () => [{ ...tierCells(subscription.tier), CreatedAt: goTime(subscription.created_at), UpdatedAt: goTime(subscription.updated_at) }],
    json: () => [subscription],
  };
}

export interface Usage {
  subscription: Subscription;
  registries: Registry[];
  total_storage_usage_bytes: number;
}

/** Share of the allowance, `12.34%`; `-` when the tier includes no storage. */
function percentOf(used: number, included: number | undefined): string {
  return included ? `${goFixed2((used / included) * 100)}%` : '-';
}

/**
 * Berth's `usage`: one row per registry and, with several, a `(total)` row. Registries share
 * their team's allowance, so each row's percentage is of the whole allowance.
 */
export function usageDisplayer(usage: Usage): Displayable {
  const tier = usage.subscription.tier;
  const included = tier?.included_storage_bytes;
  const row = (name: string, used: number, updatedAt: string | undefined | null) => ({
    Registry: name,
    StorageUsageBytes: humanBytes(used),
    IncludedStorageBytes: humanBytes(included),
    PercentUsed: percentOf(used, included),
    Tier: tier?.slug ?? '',
    AllowStorageOverage: goBool(tier?.allow_storage_overage),
    UpdatedAt: updatedAt === null ? '' : goTimePointer(updatedAt),
  });
  return {
    cols: ['Registry', 'StorageUsageBytes', 'IncludedStorageBytes', 'PercentUsed', 'Tier', 'AllowStorageOverage', 'UpdatedAt'],
    colMap: {
      Registry: 'Registry',
      StorageUsageBytes: 'Storage Used',
      IncludedStorageBytes: 'Included Storage',
      PercentUsed: 'Used',
      Tier: 'Tier',
      AllowStorageOverage: 'Storage Overage Allowed',
      UpdatedAt: 'Updated At',
    },
    rows: () => {
      const rows = usage.registries.map((r) => row(r.name ?? '', r.storage_usage_bytes ?? 0, r.storage_usage_bytes_updated_at));
      if (usage.registries.length > 1) rows.push(row('(total)', usage.total_storage_usage_bytes, null));
      return rows;
    },
    json: () => usage,
  };
}
