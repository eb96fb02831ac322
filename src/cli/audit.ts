import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ChainReport, verifyDatabase, verifyJournal } from '../audit/verify.js';
import { type CrossCheckReport, crossCheck } from '../audit/cross-check.js';
import type { Config } from '../config/types.js';
import { subjectHistory } from '../store/audit-store.js';
import { checkpointPublicKey, storeOf } from './store.js';
import { migrate } from '../store/migrations.js';


function describe(report: ChainReport): string {
  const head = `${report.source} chain ${report.instance}: ${report.records} records, ${report.checkpoints} checkpoints, ${report.unsealed} after the last`;
  if (!report.firstProblem && report.badCheckpoints.length === 0) return `${head} — OK`;
  const lines = [`${head} — FAILED`];
  if (report.firstProblem) lines.push(`  first problem at ${report.firstProblem.where}${report.firstProblem.seq ? ` (seq ${report.firstProblem.seq})` : ''}: ${report.firstProblem.problem}`);
  for (const cp of report.badCheckpoints) lines.push(`  checkpoint at ${cp.where}: ${cp.problem}`);
  return lines.join('\n');
}

/** `custodian audit verify`: every chain in the journal and/or the database; exit 1 on any break. */
export async function runAuditVerify(
  config: Config,
  options: { varDir: string; journal: boolean; database: boolean; promFile?: string },
  out: (line: string) => void = console.log,
): Promise<number> {
  const publicKey = checkpointPublicKey(config, options.varDir);
  const reports: ChainReport[] = [];
  const journalDir = config.audit.journalDir ?? join(options.varDir, 'audit');
  if (options.journal) reports.push(...(await verifyJournal(journalDir, publicKey)));
  const crossReports: CrossCheckReport[] = [];
  if (options.database) {
    const db = await storeOf(config, options.varDir);
    try {
      await migrate(db);
      reports.push(...(await verifyDatabase(db, publicKey)));
      // Records cut from the end leave a valid chain: only the copies, compared, show it.
      if (options.journal) crossReports.push(...(await crossCheck(journalDir, db)));
    } finally {
      await db.close();
    }
  }
  for (const r of reports) out(describe(r));
  for (const c of crossReports) {
    const head = `journal vs database ${c.instance}: journal to seq ${c.journalHead}, shipped to ${c.shipped}, database to ${c.databaseHead}`;
    out(c.problems.length === 0 ? `${head} — OK` : [`${head} — FAILED`, ...c.problems.map((p) => `  ${p}`)].join('\n'));
  }
  if (reports.length === 0) out('no audit chains found');
  const failed = reports.some((r) => r.firstProblem || r.badCheckpoints.length > 0) || crossReports.some((c) => c.problems.length > 0);
  if (options.promFile) {
    // For node_exporter's textfile collector: the alert CustodianChainVerificationFailed reads it.
    writeFileSync(
      options.promFile,
      `# HELP custodian_audit_verify_failed 1 if the last audit verification found a break.\n# TYPE custodian_audit_verify_failed gauge\ncustodian_audit_verify_failed ${failed ? 1 : 0}\n# HELP custodian_audit_verify_timestamp_seconds Time of the last verification.\n# TYPE custodian_audit_verify_timestamp_seconds gauge\ncustodian_audit_verify_timestamp_seconds ${Math.floor(Date.now() / 1000)}\n`,
    );
  }
  return failed ? 1 : 0;
}

/** `custodian audit subject <id> [--from] [--to] [--json]`: who accessed this customer's data. */
export async function runAuditSubject(
  config: Config,
  subject: string,
  options: { varDir: string; from?: string; to?: string; json?: boolean },
  out: (line: string) => void = console.log,
): Promise<number> {
  const from = new Date(options.from ?? Date.now() - 365 * 86400_000);
  const to = new Date(options.to ?? Date.now() + 60_000);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
    out('--from and --to must be dates (YYYY-MM-DD or ISO 8601)');
    return 2;
  }
  const db = await storeOf(config, options.varDir);
  try {
    await migrate(db);
    const accesses = await subjectHistory(db, subject, from, to, config.masking);
    if (options.json) {
      out(JSON.stringify({ subject, from: from.toISOString(), to: to.toISOString(), accesses }, null, 2));
      return 0;
    }
    out(`customer ${subject}: ${accesses.length} access(es) from ${from.toISOString()} to ${to.toISOString()}`);
    out('time                      caller        role(s)          purpose             route                       result  revealed in clear');
    for (const a of accesses) {
      out(
        [
          a.time.padEnd(25),
          a.caller.padEnd(13),
          a.roles.join(',').padEnd(16),
          (a.purpose ?? '-').padEnd(19),
          (a.route ?? '-').padEnd(27),
          `${a.decision ?? '-'}/${a.status ?? '-'}`.padEnd(7),
          a.revealedClasses.length ? a.revealedClasses.join(',') : 'none (masked)',
        ].join(' ') + (a.ambiguous ? '  [matched by masked id only: may be another customer]' : ''),
      );
    }
    return 0;
  } finally {
    await db.close();
  }
}
