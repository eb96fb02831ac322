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
  /** Per column: released byte for byte (its value is never decoded). */
  readonly copied: readonly boolean[];
  /**
   * The row description the client gets: a column whose values are rewritten (masked, bucketed,
   * pseudonymised, computed and scanned) is declared as text, since its values no longer fit
   * the source type (an income bucket is not a numeric).
   */
  readonly fields: readonly UpstreamField[];
  /** Index of the column naming the customer (restrictions, records), if the result has one. */
  readonly subjectIndex: number | undefined;
  /** The type of that column when it comes in binary (its value is decoded to text to be checked). */
  readonly subjectBinaryType: number | undefined;
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
 * computed column (no source table) passes the detectors. A binary-format column is accepted only
 * where its bytes are released as they are (or it is the customer id, of a type read here);
 * refused too is a result showing a customer table's columns without its customer id column
 * (restrictions could not be applied to its rows).
 */
export function planRows(fields: readonly UpstreamField[], names: ColumnNames, view: DatabasePurposeView, tables: ReadonlyMap<string, DatabaseTableConfig>): RowPlanResult {
  const steps: ColumnStep[] = [];
  const copied: boolean[] = [];
  const described: UpstreamField[] = [];
  const asText = (f: UpstreamField): UpstreamField => ({ ...f, dataTypeID: 25, dataTypeSize: -1, dataTypeModifier: -1, format: 'text' });
  const report = { kept: [] as string[], masked: [] as string[], dropped: [] as string[], scanned: [] as string[] };
  let subjectIndex: number | undefined;
  let subjectBinaryType: number | undefined;
  const tablesShown = new Set<string>();
  const subjectsShown = new Set<string>();
  let unknownColumns = false;
  let binaryRewritten = false;
  fields.forEach((field, i) => {
    if (field.tableID === 0) {
      if (field.format === 'binary') binaryRewritten = true;
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
    copied[i] = releasedAsIs(rule, field.dataTypeID);
    // A value released as it is may travel in binary (its bytes are copied); one the gateway
    // rewrites must come as text — the relay asks the server for that, so binary here is refused.
    if (field.format === 'binary' && !copied[i]) binaryRewritten = true;
    tablesShown.add(source.table);
    const table = tables.get(source.table);
    if (table?.subject === source.column) {
      subjectsShown.add(source.table);
      if (subjectIndex === undefined) {
        subjectIndex = i;
        if (field.format === 'binary') {
          if (!BINARY_SUBJECT_TYPES.has(field.dataTypeID)) binaryRewritten = true;
          subjectBinaryType = field.dataTypeID;
        }
      }
    }
    steps.push(released(rule, field.dataTypeID));
    const action = rule.operator.action;
    (action === 'kept' ? report.kept : action === 'dropped' || action === 'nulled' ? report.dropped : report.masked).push(field.name);
  });
  if (binaryRewritten) return { ok: false, reason: 'a masked or scanned column came in binary format' };
  if (unknownColumns) return { ok: false, reason: 'the table changed since the gateway read the database catalogue; retry the statement', unknownColumns: true };
  for (const table of tablesShown) {
    if (tables.get(table)?.subject !== undefined && !subjectsShown.has(table)) {
      return { ok: false, reason: `select the customer id column of "${table}" with its other columns` };
    }
  }
  for (let i = 0; i < fields.length; i++) copied[i] ??= false;
  return { ok: true, plan: { steps, copied, fields: described, subjectIndex, subjectBinaryType, report } };
}

/**
 * The result formats to ask the server for, given those the client asked for: a column released
 * as it is in the client's format (its bytes are copied either way), a rewritten one as text —
 * the gateway writes its masked text, which is also its binary form, since a rewritten column
 * is declared as type text.
 */
export function serverResultFormats(plan: RowPlan, clientFormat: (i: number) => number): number[] {
  return plan.copied.map((copied, i) => (copied ? clientFormat(i) : 0));
}

/** The row description for the client: each column in the format the client asked for. */
export function inClientFormats(fields: readonly UpstreamField[], clientFormat: (i: number) => number): UpstreamField[] {
  return fields.map((f, i) => ({ ...f, format: clientFormat(i) === 1 ? 'binary' : 'text' }));
}

/**
 * One DataRow as released: columns kept as they are copied byte for byte, the others decoded,
 * released by their step and encoded, into one buffer holding the whole message (this runs for
 * every row of every result, so it allocates once and decodes only what it changes).
 */
export function releaseRow(plan: RowPlan, body: Buffer, hits: DetectorHits): Buffer {
  const n = body.readInt16BE(0);
  // A row that does not match its description, or whose lengths overrun it, is a broken or
  // hostile server: nothing of it is released (and no uninitialised byte can be).
  if (n !== plan.steps.length) throw new MalformedRow();
  const starts = new Array<number>(n);
  const lengths = new Array<number>(n);
  const texts = new Array<string | null | undefined>(n);
  let size = 1 + 4 + 2;
  let at = 2;
  for (let i = 0; i < n; i++) {
    const len = body.readInt32BE(at);
    at += 4;
    if (len > body.length - at) throw new MalformedRow();
    starts[i] = at;
    lengths[i] = len;
    if (len < 0) {
      size += 4;
      continue;
    }
    at += len;
    if (plan.copied[i]) {
      size += 4 + len;
      continue;
    }
    const out = (plan.steps[i] as ColumnStep)(body.toString('utf8', starts[i], at), hits);
    texts[i] = out;
    size += 4 + (out === null ? 0 : Buffer.byteLength(out));
  }
  const row = Buffer.allocUnsafe(size);
  row[0] = 0x44; // 'D'
  row.writeInt32BE(size - 1, 1);
  row.writeInt16BE(n, 5);
  let to = 7;
  for (let i = 0; i < n; i++) {
    const len = lengths[i] as number;
    const text = texts[i];
    if (len < 0 || text === null) {
      to = row.writeInt32BE(-1, to);
    } else if (text === undefined) {
      to = row.writeInt32BE(len, to);
      to += body.copy(row, to, starts[i] as number, (starts[i] as number) + len);
    } else {
      const written = row.write(text, to + 4, 'utf8');
      row.writeInt32BE(written, to);
      to += 4 + written;
    }
  }
  return row;
}

export class MalformedRow extends Error {
  constructor() {
    super('a data row does not match its description');
  }
}

/** Customer id column types whose binary form the gateway reads (integers, text, uuid). */
const BINARY_SUBJECT_TYPES = new Set([20, 21, 23, 25, 1042, 1043, 2950]);

/** The customer id of a DataRow as text (for restrictions, the bulk guard and the record), whatever its format. */
export function rowSubject(plan: RowPlan, body: Buffer): string | null {
  const index = plan.subjectIndex as number;
  let at = 2;
  for (let i = 0; i < index; i++) {
    const len = body.readInt32BE(at);
    at += 4 + Math.max(len, 0);
  }
  const len = body.readInt32BE(at);
  if (len < 0) return null;
  at += 4;
  if (len > body.length - at) throw new MalformedRow();
  switch (plan.subjectBinaryType) {
    case undefined:
    case 25:
    case 1042:
    case 1043:
      return body.toString('utf8', at, at + len);
    case 21:
      return String(body.readInt16BE(at));
    case 23:
      return String(body.readInt32BE(at));
    case 20:
      return String(body.readBigInt64BE(at));
    default: {
      const hex = body.toString('hex', at, at + len);
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
  }
}
