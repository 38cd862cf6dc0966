/**
 * Statements that take a list take it in slices. SQLite allows 32,766 bound values per
 * statement and PostgreSQL 65,535; a 4 MiB index can list some 30,000 manifests, and each
 * manifest_refs row binds six values. These sizes keep every statement far below both limits
 * and still amortise the round trip.
 */
export const IDS_PER_STATEMENT = 1000;
/** Rows per multi-row insert (of up to a dozen columns each). */
export const ROWS_PER_INSERT = 500;

/** `items` in consecutive slices of at most `size`; nothing for an empty list. */
export function* batches<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** Runs `query` over `items` in slices of IDS_PER_STATEMENT and concatenates the rows. */
export async function inBatches<T, R>(items: readonly T[], query: (batch: T[]) => Promise<R[]>): Promise<R[]> {
  const rows: R[] = [];
  for (const batch of batches(items, IDS_PER_STATEMENT)) rows.push(...(await query(batch)));
  return rows;
}
