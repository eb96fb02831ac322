import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointKeyFromPem, ensureDemoCheckpointKey } from '../audit/checkpoint.js';
import { type ChainReport, verifyDatabase, verifyJournal } from '../audit/verify.js';
import type { Config } from '../config/types.js';
import { subjectHistory } from '../store/audit-store.js';
import { openDb } from '../store/db.js';
import { migrate } from '../store/migrations.js';

function storeOf(config: Config, varDir: string) {
  return openDb(config.store.databaseUrl, config.store.embeddedDir ?? join(varDir, 'pglite'));
}

function publicKeyOf(config: Config, varDir: string) {
  const pem = config.audit.checkpointKey ?? ensureDemoCheckpointKey(join(varDir, 'checkpoint-key.pem'));
  return checkpointKeyFromPem(pem).publicKey;
}

function describe(report: ChainReport): string {
  const head = `${report.source} chain ${report.instance}: ${report.records} records, ${report.checkpoints} checkpoints`;
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
  const publicKey = publicKeyOf(config, options.varDir);
  const reports: ChainReport[] = [];
  if (options.journal) reports.push(...(await verifyJournal(config.audit.journalDir ?? join(options.varDir, 'audit'), publicKey)));
  if (options.database) {
    const db = await storeOf(config, options.varDir);
    try {
      await migrate(db);
      reports.push(...(await verifyDatabase(db, publicKey)));
    } finally {
      await db.close();
    }
  }
  for (const r of reports) out(describe(r));
  if (reports.length === 0) out('no audit chains found');
  const failed = reports.some((r) => r.firstProblem || r.badCheckpoints.length > 0);
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
