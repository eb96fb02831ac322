/**
 * The shape every report is built in before it is rendered (HTML, Markdown, CSV or JSON): sections
 * of findings, each stating the rule it checks, a table, optional charts, and the audit records
 * behind each row. Nothing here is a clear personal value: customer ids are written as the audit
 * records hold them (pseudonymised when the id is itself an identifier).
 */

/** Chinese first, English beside it: the supervision group reads Chinese, auditors may not. */
export interface Label {
  readonly zh: string;
  readonly en: string;
}

export const label = (zh: string, en: string): Label => ({ zh, en });

export type Cell = string | number;

export interface ReportTable {
  readonly columns: readonly Label[];
  readonly rows: readonly (readonly Cell[])[];
  /** Per row: ids of the records behind it (request ids, ledger or restriction ids), newest first. */
  readonly records?: readonly RecordRefs[];
}

export interface RecordRefs {
  readonly ids: readonly string[];
  /** How many more records stand behind the row than are listed. */
  readonly more: number;
}

export type Chart =
  | { readonly kind: 'bars'; readonly title: Label; readonly bars: readonly { readonly label: string; readonly value: number }[] }
  | {
      readonly kind: 'timeline';
      readonly title: Label;
      readonly days: readonly string[];
      readonly series: readonly { readonly name: string; readonly values: readonly number[] }[];
    };

export interface ReportSection {
  readonly id: string;
  readonly title: Label;
  /** The rule the section checks (the policy chapter or regulation). */
  readonly rule: Label;
  /** attention: the rule has findings someone must look at. */
  readonly status: 'ok' | 'attention' | 'info';
  readonly summary: Label;
  readonly charts: readonly Chart[];
  readonly table: ReportTable;
}

export interface Report {
  readonly kind: 'inspection' | 'subject';
  readonly title: Label;
  readonly period: { readonly from: string; readonly to: string; readonly utcOffset: string };
  readonly generatedAt: string;
  readonly policyVersion: string;
  readonly sections: readonly ReportSection[];
}
