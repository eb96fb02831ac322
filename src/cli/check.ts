import { ConfigError, formatIssue } from '../config/issues.js';
import { loadConfig } from '../config/load.js';

/** `custodian check -c FILE`: validate a configuration; exit 1 listing every problem. */
export function runCheck(file: string, out: (line: string) => void = console.log): number {
  try {
    const config = loadConfig(file);
    out(`${config.source}: OK (${config.routes.length} routes, ${config.upstreams.size} upstreams)`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const issue of err.issues) out(formatIssue(issue));
      out(`${err.issues.length} error(s)`);
      return 1;
    }
    throw err;
  }
}
