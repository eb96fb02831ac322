import { ConfigError, formatIssue } from '../config/issues.js';
import { loadConfigDetailed } from '../config/load.js';
import { lintPolicy } from '../policy/lint.js';
import { readFileSync } from 'node:fs';
import { loadTrustAnchors, verifyPolicySignature } from '../config/signature.js';

/**
 * `custodian check -c FILE`: validate a configuration. Exit 1 listing every error, and also on
 * warnings (rules that would silently do nothing) unless `allowWarnings`.
 */
export async function runCheck(file: string, options: { allowWarnings?: boolean } = {}, out: (line: string) => void = console.log): Promise<number> {
  try {
    const { config, locate } = loadConfigDetailed(file);
    if (config.policy.requireSignature && config.policy.trustAnchorsFile) {
      const result = await verifyPolicySignature(config.source, readFileSync(config.source), loadTrustAnchors(config.policy.trustAnchorsFile));
      if (!result.ok) {
        out(`${config.source}: ${result.reason}`);
        return 1;
      }
      out(`${config.source}: signed by ${result.signature.signer} at ${result.signature.signedAt}`);
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
