// Bulk inserts that PostgreSQL accepts at any size, fast. A statement carries at most 65,535 bind
// parameters (the wire protocol counts them in 16 bits), so one multi-row INSERT of a large
// campaign fails ("bind message has N parameter formats but 0 parameters"). Here each chunk of
// rows travels as one JSON parameter (json_to_recordset), which also spares building a statement
// with one placeholder per value (~0.5 ms a row in the ORM); chunks bound the statement's size.
import { getTableColumns, getTableName, sql, type Table } from 'drizzle-orm';
import type { Queryable } from './connection.ts';

/** PostgreSQL's limit on bind parameters in one statement. */
export const MAX_BIND_PARAMETERS = 65_535;
/** Rows per bulk INSERT: one parameter each, so only the statement's size bounds it. */
export const BULK_INSERT_ROWS = 5_000;

/** Splits `rows` into chunks of at most `size`, in order. */
export function chunks<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/**
 * Inserts `rows` (the table's insert shape; every row with the same keys) in chunks of
 * BULK_INSERT_ROWS, each one statement with one parameter. Columns a row leaves out take their
 * defaults. Give rows their ids when the caller needs them in order.
 */
export async function insertRows<T extends Table>(db: Queryable, table: T, rows: readonly T['$inferInsert'][]): Promise<void> {
  const first = rows[0];
  if (!first) return;
  const columns = getTableColumns(table);
  const keys = Object.keys(first).filter((k) => k in columns);
  const names = keys.map((k) => sql.identifier(columns[k]!.name));
  const record = sql.join(keys.map((k) => sql`${sql.identifier(columns[k]!.name)} ${sql.raw(columns[k]!.getSQLType())}`), sql`, `);
  for (const chunk of chunks(rows, BULK_INSERT_ROWS)) {
    const json = JSON.stringify(chunk.map((row) => Object.fromEntries(keys.map((k) => [columns[k]!.name, (row as Record<string, unknown>)[k] ?? null]))));
    await db.execute(sql`
      insert into ${sql.identifier(getTableName(table))} (${sql.join(names, sql`, `)})
      select ${sql.join(names, sql`, `)} from json_to_recordset(${json}::json) as x (${record})`);
  }
}
