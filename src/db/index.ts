export { connectDatabase, migrateToLatest, isUniqueViolation, type Db, type ConnectOptions } from './connect.js';
export { translateDatabaseError, type AvailabilityEvent, type AvailabilityOptions } from './availability.js';
export type * from './schema.js';
export { bytewise, type Dialect } from './collation.js';
export { batches, inBatches, IDS_PER_STATEMENT, ROWS_PER_INSERT } from './batches.js';
