import type { GcRun, Registry, Team } from '../../db/index.js';
import type { ManifestSummary, TagSummary, Tier, RepositorySummary } from '../../registry/index.js';

/** RFC 3339 without fractional seconds, as DigitalOcean writes most timestamps. */
export function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
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

export function presentSubscription(team: Team, tier: Tier) {
  return { tier: presentTier(tier), created_at: timestamp(team.created_at), updated_at: timestamp(team.subscription_updated_at) };
}

/**
 * DigitalOcean's `Multiregistry` (no subscription), plus Berth's additive `endpoint`: where
 * its images live, `<registry host>/<name>` (what doctl shows as a registry's Endpoint).
 */
export function presentRegistry(registry: Registry, registryHost: string) {
  return {
    name: registry.name,
    endpoint: `${registryHost}/${registry.name}`,
    created_at: timestamp(registry.created_at),
    region: registry.region,
    storage_usage_bytes: registry.storage_usage_bytes,
    storage_usage_bytes_updated_at: new Date(registry.storage_usage_updated_at ?? registry.created_at).toISOString(),
  };
}

/** DigitalOcean's legacy `Registry`: the base fields plus the team's subscription. */
export function presentRegistryWithSubscription(registry: Registry, registryHost: string, team: Team, tier: Tier) {
  return { ...presentRegistry(registry, registryHost), subscription: presentSubscription(team, tier) };
}

/**
 * DigitalOcean's `RepositoryManifest`, plus Berth's additive fields (README "Extensions"):
 * `media_type`, `artifact_type`, `subject_digest`, blob `media_type` and `size_bytes`, an
 * index's `manifests` with their platforms, and `referrers`.
 */
export function presentManifest(registryName: string, m: ManifestSummary) {
  return {
    registry_name: registryName,
    repository: m.repository,
    digest: m.digest,
    compressed_size_bytes: m.compressedSizeBytes,
    size_bytes: m.sizeBytes,
    updated_at: timestamp(m.updatedAt),
    tags: m.tags,
    blobs: m.blobs.map((b) => ({ digest: b.digest, compressed_size_bytes: b.compressedSizeBytes, media_type: b.mediaType, size_bytes: b.sizeBytes })),
    media_type: m.mediaType,
    artifact_type: m.artifactType,
    subject_digest: m.subjectDigest,
    manifests: m.manifests.map((c) => ({
      digest: c.digest,
      media_type: c.mediaType,
      platform: c.platform,
      annotations: c.annotations,
      compressed_size_bytes: c.compressedSizeBytes,
      size_bytes: c.sizeBytes,
    })),
    referrers: m.referrers.map((r) => ({ digest: r.digest, media_type: r.mediaType, artifact_type: r.artifactType, annotations: r.annotations })),
  };
}

export function presentTag(registryName: string, t: TagSummary) {
  return {
    registry_name: registryName,
    repository: t.repository,
    tag: t.tag,
    manifest_digest: t.manifestDigest,
    compressed_size_bytes: t.compressedSizeBytes,
    size_bytes: t.sizeBytes,
    updated_at: timestamp(t.updatedAt),
  };
}

/** DigitalOcean's `RepositoryV2`, plus Berth's additive `storage_usage_bytes` (what the repository stores). */
export function presentRepositoryV2(registryName: string, r: RepositorySummary) {
  return {
    registry_name: registryName,
    name: r.name,
    tag_count: r.tagCount,
    manifest_count: r.manifestCount,
    ...(r.latestManifest ? { latest_manifest: presentManifest(registryName, r.latestManifest) } : {}),
    storage_usage_bytes: r.storageUsageBytes,
  };
}

export function presentRepositoryV1(registryName: string, r: RepositorySummary) {
  return {
    registry_name: registryName,
    name: r.name,
    tag_count: r.tagCount,
    ...(r.latestTag ? { latest_tag: presentTag(registryName, r.latestTag) } : {}),
  };
}

export function presentGc(run: GcRun) {
  return {
    uuid: run.id,
    registry_name: run.registry_name,
    status: run.status,
    created_at: timestamp(run.created_at),
    updated_at: timestamp(run.updated_at),
    blobs_deleted: run.blobs_deleted,
    freed_bytes: run.freed_bytes,
    type: run.type,
  };
}
