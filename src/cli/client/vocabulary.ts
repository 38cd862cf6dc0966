/** Words of DigitalOcean's registry API the commands check before sending. */
import type { GarbageCollectionType } from './api-types.js';

export const TIER_SLUGS = ['starter', 'basic', 'professional'] as const;
export type TierSlug = (typeof TIER_SLUGS)[number];

export function isTierSlug(value: string): value is TierSlug {
  return (TIER_SLUGS as readonly string[]).includes(value);
}

/** Statuses after which a garbage collection does nothing more. */
export const FINISHED_GC_STATUSES = ['succeeded', 'failed', 'cancelled'];

export const GC_UNREFERENCED_BLOBS_ONLY: GarbageCollectionType = 'unreferenced blobs only';
export const GC_UNTAGGED_MANIFESTS_ONLY: GarbageCollectionType = 'untagged manifests only';
export const GC_UNTAGGED_MANIFESTS_AND_UNREFERENCED_BLOBS: GarbageCollectionType = 'untagged manifests and unreferenced blobs';
