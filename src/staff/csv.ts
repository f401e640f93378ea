// CSV for spreadsheet users (RFC 4180): every cell quoted when it holds a comma, quote, CR or LF,
// and any text starting with = + - @ tab or CR prefixed with a single quote, so a customer's name
// or a message body can never run as a formula in Excel, LibreOffice or Google Sheets (OWASP's
// CSV injection advice). Numbers stay numbers. Rows are produced one at a time: a stream, never
// the whole table in memory.
export type CsvValue = string | number | boolean | null | undefined | Date;

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  let text = value instanceof Date ? value.toISOString() : value;
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(values: readonly CsvValue[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

/** The header line, then one line per row as the rows come. */
export async function* csvLines(header: readonly string[], rows: AsyncIterable<readonly CsvValue[]> | Iterable<readonly CsvValue[]>): AsyncGenerator<string> {
  yield csvLine(header);
  for await (const row of rows) yield csvLine(row);
}
