export { connectDatabase, migrateToLatest, isUniqueViolation, type Db } from './connect.js';
export type * from './schema.js';
export { bytewise, type Dialect } from './collation.js';
