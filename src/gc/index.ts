export { GarbageCollectionService, type GcOptions } from './garbage-collection-service.js';
export { sweepOrphanedBytes, type Checkpoint, type OnFreed } from './sweeps.js';
export {
  ACTIVE_GC_STATUSES,
  DEFAULT_GC_TYPE,
  FINISHED_GC_STATUSES,
  GC_STATUSES,
  GC_TYPES,
  isFinishedGcStatus,
  isGcType,
  type GcStatus,
  type GcType,
} from './vocabulary.js';
export type { GcRun } from '../db/index.js';
