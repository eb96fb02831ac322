import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The tokens a started demo wrote to var/demo-env.sh (CS_AGENT, OFFICER, AUDITOR…), by name. */
export function demoEnv(varDir: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(join(varDir, 'demo-env.sh'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => /^export (\w+)='(.*)'$/.exec(l)?.slice(1) as [string, string]),
  );
}
