import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointKeyFromPem, ensureDemoCheckpointKey } from '../audit/checkpoint.js';
import type { Config } from '../config/types.js';
import { inspectionReport } from '../report/inspection.js';
import { type ReportFormat, renderReport } from '../report/render.js';
import { subjectReport } from '../report/subject.js';
import { withStore } from './policy.js';

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

const FORMATS: readonly ReportFormat[] = ['html', 'md', 'csv', 'json'];

/** The period asked for: --from/--to as dates or times; by default the last 30 days. */
export function periodOf(options: Pick<ReportOptions, 'from' | 'to'>, now = new Date()): { from: Date; to: Date } | string {
  const to = options.to ? new Date(options.to) : now;
  const from = options.from ? new Date(options.from) : new Date(to.getTime() - 30 * 86400_000);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return '--from and --to must be dates (2026-11-01) or times';
  if (from >= to) return '--from must be before --to';
  return { from, to };
}

/** `custodian report inspection|subject …`: render from the store the configuration names. */
export async function runReport(kind: string | undefined, subject: string | undefined, config: Config, options: ReportOptions): Promise<number> {
  const format = (options.format ?? 'html') as ReportFormat;
  if (!FORMATS.includes(format)) {
    console.error(`--format must be one of ${FORMATS.join(', ')}`);
    return 2;
  }
  const period = periodOf(options);
  if (typeof period === 'string') {
    console.error(period);
    return 2;
  }
  const utcOffset = options.utcOffset ?? '+08:00';
  if (!/^[+-]\d{2}:\d{2}$/.test(utcOffset)) {
    console.error('--utc-offset must look like +08:00');
    return 2;
  }
  if (options.adminUrl) return reportFromAdminPlane(kind, subject, period, format, utcOffset, options);
  const report = await withStore(config, options.varDir, async (db) => {
    if (kind === 'inspection') {
      const pem = config.audit.checkpointKey ?? ensureDemoCheckpointKey(join(options.varDir, 'checkpoint-key.pem'));
      return inspectionReport(db, config, { ...period, utcOffset }, { checkpointKey: checkpointKeyFromPem(pem).publicKey });
    }
    if (kind === 'subject' && subject) return subjectReport(db, config, subject, period);
    return undefined;
  });
  if (!report) {
    console.error('report needs "inspection" or "subject <customerId>"');
    return 2;
  }
  const text = renderReport(report, format);
  if (options.out) {
    writeFileSync(options.out, text);
    console.error(`wrote ${report.kind} report (${format}) to ${options.out}`);
  } else {
    process.stdout.write(text);
  }
  return 0;
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
  if (options.out) {
    writeFileSync(options.out, text);
    console.error(`wrote ${kind} report (${format}) to ${options.out}`);
  } else {
    process.stdout.write(text);
  }
  return 0;
}
