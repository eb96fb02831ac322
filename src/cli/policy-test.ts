import { dirname, resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { readPolicyTestFile, runPolicyCases } from '../policy/policy-tests.js';

/**
 * `custodian test FILE`: run policy test cases against the policy the file names (`config:`).
 * Prints TAP-like ok/not ok lines; exit 1 if any case fails.
 */
export async function runPolicyTests(file: string, out: (line: string) => void = console.log): Promise<number> {
  let spec: ReturnType<typeof readPolicyTestFile>;
  try {
    spec = readPolicyTestFile(file);
  } catch (err) {
    out(err instanceof Error ? err.message : String(err));
    return 2;
  }
  if (typeof spec.config !== 'string') {
    out(`${file}: expected { config: <policy file>, tests: [...] }`);
    return 2;
  }
  const results = await runPolicyCases(loadConfig(resolve(dirname(file), spec.config)), spec);
  let failed = 0;
  for (const [i, result] of results.entries()) {
    if (result.problems.length === 0) {
      out(`ok ${i + 1} - ${result.name}`);
      continue;
    }
    failed++;
    out(`not ok ${i + 1} - ${result.name}`);
    for (const p of result.problems) out(`  # ${p}`);
  }
  out(`# ${results.length - failed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}
