import { sql, type RawBuilder } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/**
 * Byte-wise ordering for names (tags, repositories), as the OCI spec's lexical order means.
 * PostgreSQL would otherwise sort by the database locale; SQLite's BINARY already is bytes.
 */
export function bytewise(dialect: Dialect, expression: RawBuilder<string> | string): RawBuilder<string> {
  const expr = typeof expression === 'string' ? sql.ref(expression) : expression;
  return dialect === 'postgres' ? sql<string>`${expr} collate "C"` : sql<string>`${expr}`;
}
