/**
 * JSON Schemas of the DigitalOcean registry API as Berth serves it. The same objects validate
 * requests, serialise responses (dropping anything not in the contract) and generate
 * /openapi.json, so the description cannot drift from the behaviour.
 */
import { GC_STATUSES, GC_TYPES } from '../../gc/index.js';
import { TIER_SLUGS } from '../../registry/index.js';

const dateTime = { type: 'string', format: 'date-time' } as const;
const int = { type: 'integer' } as const;
const str = { type: 'string' } as const;

export const errorBody = {
  $id: 'Error',
  type: 'object',
  required: ['id', 'message'],
  properties: { id: str, message: str, request_id: str },
} as const;

const tier = {
  type: 'object',
  properties: {
    name: str,
    slug: str,
    included_repositories: int,
    included_storage_bytes: int,
    allow_storage_overage: { type: 'boolean' },
    included_bandwidth_bytes: int,
    monthly_price_in_cents: int,
    storage_overage_price_in_cents: int,
  },
} as const;

export const subscription = {
  type: 'object',
  properties: { tier, created_at: dateTime, updated_at: dateTime },
} as const;

const registryBaseProperties = {
  name: str,
  /** Berth's extension: `<registry host>/<name>`, the prefix of the registry's image references. */
  endpoint: str,
  created_at: dateTime,
  region: str,
  storage_usage_bytes: int,
  storage_usage_bytes_updated_at: dateTime,
} as const;

/** DigitalOcean's `Multiregistry`. */
export const multiregistry = { type: 'object', properties: registryBaseProperties } as const;
/** DigitalOcean's legacy `Registry`: the base plus the team's subscription. */
export const registryWithSubscription = { type: 'object', properties: { ...registryBaseProperties, subscription } } as const;

/** Berth's extensions to DigitalOcean's `repository_blob`: the blob's media type and uncompressed size. */
const repositoryBlob = { type: 'object', properties: { digest: str, compressed_size_bytes: int, media_type: str, size_bytes: int } } as const;
const annotations = { type: 'object', additionalProperties: str } as const;
const platform = {
  type: 'object',
  properties: { os: str, architecture: str, variant: str, 'os.version': str },
} as const;

/** Berth's extension: a child of an image index, with its platform and sizes. */
const indexChild = {
  type: 'object',
  properties: { digest: str, media_type: str, platform, annotations, compressed_size_bytes: int, size_bytes: int },
} as const;

/** Berth's extension: a manifest whose subject is this one (signature, SBOM, attestation). */
const referrer = { type: 'object', properties: { digest: str, media_type: str, artifact_type: str, annotations } } as const;

export const repositoryManifest = {
  type: 'object',
  properties: {
    registry_name: str,
    repository: str,
    digest: str,
    compressed_size_bytes: int,
    size_bytes: int,
    updated_at: dateTime,
    tags: { type: 'array', items: str },
    blobs: { type: 'array', items: repositoryBlob },
    // Berth's additive extensions (README "Extensions to DigitalOcean's API").
    media_type: str,
    artifact_type: str,
    subject_digest: str,
    manifests: { type: 'array', items: indexChild },
    referrers: { type: 'array', items: referrer },
  },
} as const;

export const repositoryTag = {
  type: 'object',
  properties: {
    registry_name: str,
    repository: str,
    tag: str,
    manifest_digest: str,
    compressed_size_bytes: int,
    size_bytes: int,
    updated_at: dateTime,
  },
} as const;

export const repositoryV1 = {
  type: 'object',
  properties: { registry_name: str, name: str, latest_tag: repositoryTag, tag_count: int },
} as const;

export const repositoryV2 = {
  type: 'object',
  // storage_usage_bytes: Berth's extension, the distinct bytes the repository stores.
  properties: { registry_name: str, name: str, latest_manifest: repositoryManifest, tag_count: int, manifest_count: int, storage_usage_bytes: int },
} as const;

export const garbageCollection = {
  type: 'object',
  properties: {
    uuid: str,
    registry_name: str,
    status: { type: 'string', enum: [...GC_STATUSES] },
    created_at: dateTime,
    updated_at: dateTime,
    blobs_deleted: int,
    freed_bytes: int,
    type: { type: 'string', enum: [...GC_TYPES] },
  },
} as const;

const link = str;
export const links = {
  type: 'object',
  properties: { pages: { type: 'object', properties: { first: link, prev: link, next: link, last: link } } },
} as const;
export const meta = { type: 'object', required: ['total'], properties: { total: int } } as const;

export const dockerCredentials = {
  type: 'object',
  properties: { auths: { type: 'object', additionalProperties: { type: 'object', properties: { auth: str } } } },
} as const;

export const options = {
  type: 'object',
  properties: {
    options: {
      type: 'object',
      properties: {
        available_regions: { type: 'array', items: str },
        subscription_tiers: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              ...tier.properties,
              eligible: { type: 'boolean' },
              eligibility_reasons: { type: 'array', items: { type: 'string', enum: ['OverRepositoryLimit', 'OverStorageLimit'] } },
            },
          },
        },
      },
    },
  },
} as const;

// Request pieces.
export const registryNameParam = { type: 'object', required: ['registry_name'], properties: { registry_name: str } } as const;
export const pageQuery = {
  // Bounded so that (page - 1) × per_page stays an exact integer any database accepts.
  page: { type: 'integer', minimum: 1, maximum: 1_000_000_000, default: 1 },
  per_page: { type: 'integer', minimum: 1, maximum: 200, default: 20 },
} as const;
export const tierSlug = { type: 'string', enum: [...TIER_SLUGS] } as const;
export const gcType = { type: 'string', enum: [...GC_TYPES] } as const;
