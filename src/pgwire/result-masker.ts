import type { DatabaseTableConfig } from '../config/types.js';
import { type DetectorHits, maskDetected } from '../mask/detectors.js';
import { DROP } from '../mask/operators.js';
import type { FieldRule } from '../mask/plan.js';
import type { DatabasePurposeView } from '../policy/database.js';
import type { ColumnNames, UpstreamField } from './upstream.js';

// Numeric types whose text form is handed to operators as a number (generalize buckets, etc.).
const NUMERIC_TYPES = new Set([20, 21, 23, 700, 701, 1700]);
// Types whose values cannot hold an 11+ digit identifier (bool, int2, int4, dates, times, uuid):
// a kept column of these is released as it is, with its type, and the detectors skip it.
const NO_IDENTIFIER_TYPES = new Set([16, 21, 23, 1082, 1083, 1114, 1184, 1186, 2950]);

/** What happens to one result column. */
type ColumnStep = (value: string, hits: DetectorHits) => string | null;

export interface RowPlan {
  /** Per column: its released form (null: released as SQL NULL). */
  readonly steps: readonly ColumnStep[];
  /**
   * The row description the client gets: a column whose values are rewritten (masked, bucketed,
   * pseudonymised, computed and scanned) is declared as text, since its values no longer fit
   * the source type (an income bucket is not a numeric).
   */
  readonly fields: readonly UpstreamField[];
  /** Index of the column naming the customer (restrictions, records), if the result has one. */
  readonly subjectIndex: number | undefined;
  /** Column names by what was done to them, for the field report. */
  readonly report: { kept: string[]; masked: string[]; dropped: string[]; scanned: string[] };
}

/** A refusal; `unknownColumns` when a column's table OID is unknown to the catalogue (stale: re-read it). */
export type RowPlanResult = { ok: true; plan: RowPlan } | { ok: false; reason: string; unknownColumns?: true };

/** Whether a column is released byte for byte (and keeps its declared type). */
function releasedAsIs(rule: FieldRule, typeId: number): boolean {
  return rule.operator.action === 'kept' && (!rule.scan || NO_IDENTIFIER_TYPES.has(typeId));
}

function released(rule: FieldRule, typeId: number): ColumnStep {
  const numeric = NUMERIC_TYPES.has(typeId);
  if (releasedAsIs(rule, typeId)) return (value) => value;
  return (value, hits) => {
    if (rule.operator.action === 'kept') return maskDetected(value, hits);
    const input = numeric && Number.isFinite(Number(value)) ? Number(value) : value;
    const out = rule.operator.apply(input);
    if (out === DROP || out === null || out === undefined) return null;
    return typeof out === 'string' ? out : String(out);
  };
}

const asNull: ColumnStep = () => null;
const detectorsOnly: ColumnStep = (value, hits) => maskDetected(value, hits);

/**
 * How each column of a result is released for this purpose. A column of a policy table gets its
 * dictionary field's rule under the purpose's view; a column the policy does not list is NULL; a
 * computed column (no source table) passes the detectors. A binary-format column is refused, and
 * so is a result showing a customer table's columns without its customer id column (restrictions
 * could not be applied to its rows).
 */
export function planRows(fields: readonly UpstreamField[], names: ColumnNames, view: DatabasePurposeView, tables: ReadonlyMap<string, DatabaseTableConfig>): RowPlanResult {
  const steps: ColumnStep[] = [];
  const described: UpstreamField[] = [];
  const asText = (f: UpstreamField): UpstreamField => ({ ...f, dataTypeID: 25, dataTypeSize: -1, dataTypeModifier: -1, format: 'text' });
  const report = { kept: [] as string[], masked: [] as string[], dropped: [] as string[], scanned: [] as string[] };
  let subjectIndex: number | undefined;
  const tablesShown = new Set<string>();
  const subjectsShown = new Set<string>();
  let unknownColumns = false;
  fields.forEach((field, i) => {
    if (field.format === 'binary') {
      steps.push(asNull);
      described.push(asText(field));
      return;
    }
    if (field.tableID === 0) {
      steps.push(detectorsOnly);
      described.push(asText(field));
      report.scanned.push(field.name);
      return;
    }
    const source = names.get(`${field.tableID}.${field.columnID}`);
    // Statements read only policy tables, whose columns the catalogue maps: a column it does not
    // know means a migration changed the table since it was read. No rule is guessed for it.
    if (!source) unknownColumns = true;
    const rule = source ? view.columns.get(source.table)?.get(source.column) : undefined;
    if (!source || !rule) {
      steps.push(asNull);
      described.push(field);
      report.dropped.push(field.name);
      return;
    }
    described.push(releasedAsIs(rule, field.dataTypeID) ? field : asText(field));
    tablesShown.add(source.table);
    const table = tables.get(source.table);
    if (table?.subject === source.column) {
      subjectsShown.add(source.table);
      subjectIndex ??= i;
    }
    steps.push(released(rule, field.dataTypeID));
    const action = rule.operator.action;
    (action === 'kept' ? report.kept : action === 'dropped' || action === 'nulled' ? report.dropped : report.masked).push(field.name);
  });
  if (fields.some((f) => f.format === 'binary')) return { ok: false, reason: 'binary result columns are not released' };
  if (unknownColumns) return { ok: false, reason: 'the table changed since the gateway read the database catalogue; retry the statement', unknownColumns: true };
  for (const table of tablesShown) {
    if (tables.get(table)?.subject !== undefined && !subjectsShown.has(table)) {
      return { ok: false, reason: `select the customer id column of "${table}" with its other columns` };
    }
  }
  return { ok: true, plan: { steps, fields: described, subjectIndex, report } };
}
