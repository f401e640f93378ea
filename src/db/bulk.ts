// Bulk inserts in chunks PostgreSQL accepts: a statement carries at most 65,535 bind parameters
// (the wire protocol counts them in 16 bits), so one INSERT of every row of a large campaign fails
// ("bind message has N parameter formats but 0 parameters"). Each chunk stays under the limit.
import { getTableColumns, type Table } from 'drizzle-orm';

/** PostgreSQL's limit on bind parameters in one statement. */
export const MAX_BIND_PARAMETERS = 65_535;

/** Rows of `table` one INSERT may carry: every column may be a parameter. */
export function rowsPerInsert(table: Table): number {
  return Math.max(1, Math.floor(MAX_BIND_PARAMETERS / Object.keys(getTableColumns(table)).length));
}

/** Splits `rows` into chunks of at most `size`, in order. */
export function chunks<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}
