export { TeamService } from './teams.js';
export { RegistryService, type CreateRegistryInput } from './registries.js';
export { RepositoryService } from './repositories.js';
export { BlobService } from './blobs.js';
export { UploadService } from './uploads.js';
export { ManifestService, type PutManifestResult } from './manifests.js';
export { ListingService, type Page } from './listings.js';
export { DEFAULT_TIERS, DEFAULT_REGIONS, TIER_SLUGS, isTierSlug, type Tier, type TierSlug } from './tiers.js';
