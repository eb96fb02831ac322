import { execFileSync } from 'node:child_process';

/**
 * Whether a command-line tool a test needs is installed. Under CI=true a missing tool is a
 * failure, never a silent skip: .ci/run installs every tool the suite uses.
 */
export function requireTool(t: { fail(message: string): void; comment(message: string): void }, tool: string, versionArg = '--version'): boolean {
  try {
    execFileSync(tool, [versionArg], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI === 'true') t.fail(`${tool} is not installed (CI installs it in .ci/run)`);
    else t.comment(`${tool} not installed: this check did not run (it is required under CI=true)`);
    return false;
  }
}
