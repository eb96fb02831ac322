/**
 * PostgreSQL COPY text format (https://www.postgresql.org/docs/current/sql-copy.html): one line per
 * row, columns separated by tabs, NULL as \N, and backslash, tab, newline and carriage return
 * escaped with a backslash. Values are whatever the gateway recorded, so every one is escaped.
 */
const SPECIAL = /[\\\t\n\r]/g;
/** The same characters, for a test that stops at the first: most values (the record text above all) have none. */
const HAS_SPECIAL = /[\\\t\n\r]/;
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

export type CopyValue = string | number | null | undefined;

export function copyField(value: CopyValue): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'number') return String(value);
  return HAS_SPECIAL.test(value) ? value.replace(SPECIAL, (c) => ESCAPES[c] as string) : value;
}

/** A text[] value: an array literal with every element quoted, then escaped as a COPY field. */
export function copyTextArray(values: readonly string[]): string {
  return copyField(`{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`);
}

export function copyRow(fields: readonly string[]): string {
  return `${fields.join('\t')}\n`;
}
