export { connectDatabase, migrateToLatest, isUniqueViolation, type Db } from './connect.js';
export type * from './schema.js';
export { bytewise, type Dialect } from './collation.js';
export { batches, inBatches, IDS_PER_STATEMENT, ROWS_PER_INSERT } from './batches.js';
