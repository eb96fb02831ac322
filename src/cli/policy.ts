import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, formatIssue } from '../config/issues.js';
import { parseConfig } from '../config/load.js';
import { signPolicyFile } from '../config/signature.js';
import type { Config } from '../config/types.js';
import { formatImpact, policyImpact } from '../policy/impact.js';
import { withStore } from './store.js';
import { listPolicyVersions, policyTextOf } from '../store/policy-versions.js';

type Out = (line: string) => void;

/**
 * A policy named on the command line: a file, or the id of a version the store keeps (read
 * through the store `config` names). Parsed as if it were the file `config` came from, so its
 * relative references resolve the same way.
 */
export async function policyNamed(ref: string, config: Config | undefined, varDir: string): Promise<Config> {
  if (existsSync(ref)) {
    const source = resolve(ref);
    return parseConfig(source, readFileSync(source, 'utf8'));
  }
  if (!config) throw new Error(`${ref}: no such file (a version id needs -c FILE to find the store)`);
  const kept = await withStore(config, varDir, (db) => policyTextOf(db, ref));
  return parseConfig(config.source, kept.text);
}

/** `custodian policy diff A B`: what changes for people when B replaces A. */
export async function runPolicyDiff(a: string, b: string, config: Config | undefined, varDir: string, out: Out = console.log): Promise<number> {
  try {
    const before = await policyNamed(a, config, varDir);
    const after = await policyNamed(b, config, varDir);
    const report = policyImpact(before, after);
    out(`impact of ${b} (${after.digest.slice(0, 12)}) replacing ${a} (${before.digest.slice(0, 12)}):`);
    for (const line of formatImpact(report)) out(`  ${line}`);
    if (report.revealing) out('this change reveals data: under policy.fourEyes it needs a second officer\'s signature');
    return 0;
  } catch (err) {
    return reportFailure(err, out);
  }
}

/** `custodian policy versions`: every kept version, newest first. */
export async function runPolicyVersions(config: Config, varDir: string, out: Out = console.log): Promise<number> {
  const versions = await withStore(config, varDir, (db) => listPolicyVersions(db));
  if (versions.length === 0) out('no policy version kept yet');
  for (const v of versions) {
    const signers = [v.signer, ...v.cosigners].filter(Boolean).join(' + ') || 'unsigned';
    out(`${v.version}  ${v.loadedAt}  ${v.loadedBy ?? '—'}  signed: ${signers}${v.revealing ? '  REVEALING' : ''}  instance ${v.instance}`);
    for (const line of v.impact) out(`    ${line}`);
  }
  return 0;
}

/** `custodian policy show VERSION [--out FILE]`: a kept version's exact text (to roll back: sign it and load it). */
export async function runPolicyShow(id: string, config: Config, varDir: string, outFile: string | undefined, out: Out = (l) => process.stdout.write(l)): Promise<number> {
  try {
    const kept = await withStore(config, varDir, (db) => policyTextOf(db, id));
    if (outFile) {
      writeFileSync(outFile, kept.text);
      console.error(`wrote version ${kept.digest.slice(0, 12)} to ${outFile}: sign it (custodian policy sign) and reload to roll back`);
    } else {
      out(kept.text);
    }
    return 0;
  } catch (err) {
    return reportFailure(err, console.error);
  }
}

/** `custodian policy sign -c FILE --key KEY --signer OFFICER [--cosign]`. */
export async function runPolicySign(file: string, keyFile: string, signer: string, cosign: boolean, out: Out = console.log): Promise<number> {
  try {
    const claim = await signPolicyFile(file, readFileSync(keyFile, 'utf8'), signer, { cosign });
    out(`${cosign ? 'co-signed' : 'signed'} ${file} (sha256 ${claim.digest.slice(0, 16)}…) as ${claim.signer}; wrote ${file}.sig`);
    return 0;
  } catch (err) {
    return reportFailure(err, console.error);
  }
}

function reportFailure(err: unknown, out: Out): number {
  if (err instanceof ConfigError) {
    for (const issue of err.issues) out(formatIssue(issue));
    return 1;
  }
  out(err instanceof Error ? err.message : String(err));
  return 1;
}
