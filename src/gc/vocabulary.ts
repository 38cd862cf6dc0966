/**
 * Garbage collection words as DigitalOcean's API spells them: the `type` a run is started
 * with and the `status` values a run passes through.
 *
 *   requested ─┬─────────────────────────────────────────┬─► scanning manifests ─► deleting unreferenced blobs ─► succeeded
 *              └─► waiting for write JWTs to expire ──────┘    (read-only mode)       (skipped by 'untagged manifests only')
 *   any active status ─► cancelling ─► cancelled      (requested ─► cancelled at once)
 *   any active status ─► failed
 */

export const GC_TYPES = ['untagged manifests only', 'unreferenced blobs only', 'untagged manifests and unreferenced blobs'] as const;
export type GcType = (typeof GC_TYPES)[number];

/** What a run does when the request names no type (DigitalOcean's default). */
export const DEFAULT_GC_TYPE: GcType = 'unreferenced blobs only';

export const GC_STATUSES = [
  'requested',
  'waiting for write JWTs to expire',
  'scanning manifests',
  'deleting unreferenced blobs',
  'cancelling',
  'failed',
  'succeeded',
  'cancelled',
] as const;
export type GcStatus = (typeof GC_STATUSES)[number];

/** Statuses of a run that is over; every other status is active (one per registry). */
export const FINISHED_GC_STATUSES: readonly GcStatus[] = ['failed', 'succeeded', 'cancelled'];
export const ACTIVE_GC_STATUSES: readonly GcStatus[] = GC_STATUSES.filter((s) => !FINISHED_GC_STATUSES.includes(s));

export function isGcType(value: unknown): value is GcType {
  return typeof value === 'string' && (GC_TYPES as readonly string[]).includes(value);
}

export function isFinishedGcStatus(status: string): boolean {
  return (FINISHED_GC_STATUSES as readonly string[]).includes(status);
}

export function removesUntaggedManifests(type: string): boolean {
  return type === 'untagged manifests only' || type === 'untagged manifests and unreferenced blobs';
}

export function removesUnreferencedBlobs(type: string): boolean {
  return type === 'unreferenced blobs only' || type === 'untagged manifests and unreferenced blobs';
}
