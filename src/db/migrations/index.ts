import type { Migration } from 'kysely';
import * as m0001 from './0001-init.js';
import * as m0002 from './0002-sizes-gc-limits.js';
import * as m0003 from './0003-manifest-touched-at.js';
import * as m0004 from './0004-shared-storage.js';
import * as m0005 from './0005-sliding-rate-limits.js';
import * as m0006 from './0006-upload-claims.js';

/** Every migration, listed statically so bundling and renames cannot lose one. */
export const migrations: Record<string, Migration> = {
  '0001-init': m0001,
  '0002-sizes-gc-limits': m0002,
  '0003-manifest-touched-at': m0003,
  '0004-shared-storage': m0004,
  '0005-sliding-rate-limits': m0005,
  '0006-upload-claims': m0006,
};
