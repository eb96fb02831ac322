import { writeFileSync } from 'node:fs';
import type { Config } from '../config/types.js';
import { inspectionReport } from '../report/inspection.js';
import { isUtcOffset, reportPeriod } from '../report/queries.js';
import { CONTENT_TYPES, isReportFormat, type ReportFormat, renderReport } from '../report/render.js';
import { subjectReport } from '../report/subject.js';
import { checkpointPublicKey, withStore } from './store.js';

export interface ReportOptions {
  readonly varDir: string;
  readonly from?: string;
  readonly to?: string;
  readonly format?: string;
  readonly out?: string;
  /** Local clock of the report (hours and days), e.g. +08:00. */
  readonly utcOffset?: string;
  /** Ask a running gateway's admin plane instead of opening the store (the demo holds its embedded store open). */
  readonly adminUrl?: string;
  /** Officer or auditor token for --admin-url (or CUSTODIAN_ADMIN_TOKEN). */
  readonly token?: string;
}

/** The period asked for: --from/--to as dates or times; by default the last 30 days. */
export function periodOf(options: Pick<ReportOptions, 'from' | 'to'>, now = new Date()): { from: Date; to: Date } | string {
  const p = reportPeriod(options.from, options.to, 30, now);
  if (p === 'not a date') return '--from and --to must be dates (2026-11-01) or times';
  return p === 'from after to' ? '--from must be before --to' : p;
}

/** `custodian report inspection|subject …`: render from the store the configuration names. */
export async function runReport(kind: string | undefined, subject: string | undefined, config: Config, options: ReportOptions): Promise<number> {
  const format = options.format ?? 'html';
  if (!isReportFormat(format)) {
    console.error(`--format must be one of ${Object.keys(CONTENT_TYPES).join(', ')}`);
    return 2;
  }
  const period = periodOf(options);
  if (typeof period === 'string') {
    console.error(period);
    return 2;
  }
  const utcOffset = options.utcOffset ?? '+08:00';
  if (!isUtcOffset(utcOffset)) {
    console.error('--utc-offset must look like +08:00');
    return 2;
  }
  if (options.adminUrl) return reportFromAdminPlane(kind, subject, period, format, utcOffset, options);
  const report = await withStore(config, options.varDir, async (db) => {
    if (kind === 'inspection') {
      return inspectionReport(db, config, { ...period, utcOffset }, { checkpointKey: checkpointPublicKey(config, options.varDir) });
    }
    if (kind === 'subject' && subject) return subjectReport(db, config, subject, period);
    return undefined;
  });
  if (!report) {
    console.error('report needs "inspection" or "subject <customerId>"');
    return 2;
  }
  emit(renderReport(report, format), `${report.kind} report (${format})`, options.out);
  return 0;
}

/** A rendered report to --out (saying so on stderr) or to stdout. */
function emit(text: string, what: string, out: string | undefined): void {
  if (!out) {
    process.stdout.write(text);
    return;
  }
  writeFileSync(out, text);
  console.error(`wrote ${what} to ${out}`);
}

/** The same report, rendered by a running gateway's admin plane (GET /reports/…). */
async function reportFromAdminPlane(
  kind: string | undefined,
  subject: string | undefined,
  period: { from: Date; to: Date },
  format: ReportFormat,
  utcOffset: string,
  options: ReportOptions,
): Promise<number> {
  const token = options.token ?? process.env.CUSTODIAN_ADMIN_TOKEN;
  if (!token) {
    console.error('--admin-url needs an officer or auditor token: --token or CUSTODIAN_ADMIN_TOKEN');
    return 2;
  }
  const query = new URLSearchParams({ from: period.from.toISOString(), to: period.to.toISOString(), format, utcOffset });
  const path = kind === 'inspection' ? '/reports/inspection' : kind === 'subject' && subject ? `/reports/subjects/${encodeURIComponent(subject)}` : undefined;
  if (!path) {
    console.error('report needs "inspection" or "subject <customerId>"');
    return 2;
  }
  const res = await fetch(`${(options.adminUrl as string).replace(/\/$/, '')}${path}?${query}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (!res.ok) {
    console.error(`the admin plane answered ${res.status}: ${text.slice(0, 300)}`);
    return 1;
  }
  emit(text, `${kind} report (${format})`, options.out);
  return 0;
}
