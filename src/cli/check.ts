import { ConfigError, formatIssue } from '../config/issues.js';
import { loadConfigDetailed } from '../config/load.js';
import { loadTrustAnchors, signatureTextOf } from '../config/signature.js';
import type { Config } from '../config/types.js';
import { admitPolicy } from '../policy/admission.js';
import { formatImpact } from '../policy/impact.js';
import { lintPolicy } from '../policy/lint.js';
import { policyNamed } from './policy.js';

export interface CheckOptions {
  /** Exit 0 when there are only warnings. */
  readonly allowWarnings?: boolean;
  /** The policy this one would replace (a file or a kept version id): its impact is printed. */
  readonly against?: string;
  readonly varDir?: string;
}

/**
 * `custodian check -c FILE`: would this policy be admitted? The same gate as start and reload —
 * signatures (when required), the policy tests it names, four-eyes against `--against` — plus
 * every load error and warning with its line. Exit 1 on any error, and on warnings unless
 * `allowWarnings`.
 */
export async function runCheck(file: string, options: CheckOptions = {}, out: (line: string) => void = console.log): Promise<number> {
  try {
    const { config, locate } = loadConfigDetailed(file);
    let previous: Config | undefined;
    if (options.against) previous = await policyNamed(options.against, config, options.varDir ?? 'var');
    const admission = await admitPolicy(
      { config, signatureText: signatureTextOf(config.source) },
      {
        anchors: config.policy.requireSignature && config.policy.trustAnchorsFile ? loadTrustAnchors(config.policy.trustAnchorsFile) : undefined,
        fourEyes: config.policy.fourEyes || (previous?.policy.fourEyes ?? false),
        previous: previous ? { config: previous } : undefined,
      },
    );
    for (const s of admission.signatures) out(`${config.source}: signed by ${s.signer} at ${s.signedAt}`);
    if (config.policy.unsignedInProduction) out(`warning: ${config.source}: policy.requireSignature is false in production mode`);
    if (config.policyTests.length > 0) out(`policy tests: ${admission.testsPassed} passed${admission.errors.some((e) => e.startsWith('policy test')) ? ', some failed' : ''}`);
    if (admission.impact) {
      out(`impact against ${options.against}:`);
      for (const line of formatImpact(admission.impact)) out(`  ${line}`);
    } else {
      out('impact: name the policy this one replaces with --against FILE|VERSION (custodian policy versions lists them)');
    }
    for (const e of admission.errors) out(e);
    if (admission.errors.length > 0) {
      out(`${config.source}: refused (${admission.errors.length} error(s))`);
      return 1;
    }
    const warnings = lintPolicy(config).map(locate);
    for (const w of warnings) out(`warning: ${formatIssue(w)}`);
    out(
      `${config.source}: ${warnings.length === 0 ? 'OK' : `${warnings.length} warning(s)`} ` +
        `(${config.routes.length} routes, ${config.purposes.length} purposes, ${config.upstreams.size} upstreams)`,
    );
    return warnings.length > 0 && !options.allowWarnings ? 1 : 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const issue of err.issues) out(formatIssue(issue));
      out(`${err.issues.length} error(s)`);
      return 1;
    }
    throw err;
  }
}
