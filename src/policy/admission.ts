import type { Config } from '../config/types.js';
import { type PolicySignature, type TrustAnchor, verifyPolicySignatures } from '../config/signature.js';
import { type ImpactReport, policyImpact } from './impact.js';
import { failingPolicyTests } from './policy-tests.js';

/** A policy asking to serve: its parsed configuration and the signatures presented with it. */
export interface PolicyCandidate {
  readonly config: Config;
  /** The signature file's text (one JWS per line), when there is one. */
  readonly signatureText: string | undefined;
}

export interface AdmissionRules {
  /** The officers whose signatures count; undefined when signatures are not required. */
  readonly anchors: readonly TrustAnchor[] | undefined;
  /** A revealing change needs a second officer's signature. */
  readonly fourEyes: boolean;
  /** What serves now (or was served last); undefined on a first start. */
  readonly previous: { readonly config: Config } | { readonly unreadable: string } | undefined;
}

export interface Admission {
  /** Why the policy may not serve; empty when it may. */
  readonly errors: readonly string[];
  readonly signatures: readonly PolicySignature[];
  /** What changes for people against the previous policy (undefined: no previous, or unreadable). */
  readonly impact: ImpactReport | undefined;
  readonly testsPassed: number;
}

/**
 * The one gate every policy passes before it serves — `custodian check`, start, SIGHUP and the
 * admin API alike: its signatures hold (when required), the security team's policy tests pass
 * against it, its impact on what people see is worked out, and a change that reveals more
 * carries a second officer's signature (under four-eyes). Every failure is listed.
 */
export async function admitPolicy(candidate: PolicyCandidate, rules: AdmissionRules): Promise<Admission> {
  const errors: string[] = [];
  let signatures: PolicySignature[] = [];
  if (rules.anchors) {
    const verified = await verifyPolicySignatures(Buffer.from(candidate.config.text, 'utf8'), candidate.signatureText, rules.anchors);
    if (verified.ok) signatures = verified.signatures;
    else errors.push(`policy signature refused: ${verified.reason}`);
  }

  const tests = await failingPolicyTests(candidate.config);
  errors.push(...tests.failures);

  let impact: ImpactReport | undefined;
  const previous = rules.previous;
  if (previous && 'config' in previous) {
    impact = previous.config.digest === candidate.config.digest ? { lines: [], revealing: false } : policyImpact(previous.config, candidate.config);
  }
  if (rules.fourEyes && rules.anchors && errors.length === 0) {
    // A change whose impact cannot be worked out is treated as revealing: fail closed.
    const revealing = impact ? impact.revealing : previous !== undefined;
    if (revealing && signatures.length < 2) {
      const why = impact ? 'this change reveals data (see its impact)' : `its impact cannot be worked out (${'unreadable' in (previous ?? {}) ? (previous as { unreadable: string }).unreadable : 'no previous version'})`;
      errors.push(`four-eyes: ${why}; it needs a second officer's signature besides ${signatures[0]?.signer ?? 'the editor'}'s (custodian policy sign --cosign)`);
    }
  }
  return { errors, signatures, impact, testsPassed: tests.passed };
}
