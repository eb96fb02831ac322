import { ConfigError, formatIssue } from '../config/issues.js';
import { loadConfigDetailed } from '../config/load.js';
import { lintPolicy } from '../policy/lint.js';
import type { Config } from '../config/types.js';
import { type RunningGateway, startGateway } from '../server.js';

/** Load a configuration or print every error; undefined means "do not start". */
export function loadOrReport(file: string): Config | undefined {
  try {
    const { config, locate } = loadConfigDetailed(file);
    for (const w of lintPolicy(config).map(locate)) console.error(`warning: ${formatIssue(w)}`);
    return config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const issue of err.issues) console.error(formatIssue(issue));
    console.error(`refusing to start: ${err.issues.length} configuration error(s)`);
    return undefined;
  }
}

/** Close the gateway on SIGINT/SIGTERM, once. */
export function closeOnSignals(close: () => Promise<void>): void {
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    console.error(`${signal}: shutting down`);
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

/** SIGHUP: re-read the policy; a failed reload keeps the running one (and says why). */
export function reloadOnHangup(reload: () => Promise<unknown>): void {
  process.on('SIGHUP', () => {
    reload().catch((err: unknown) => console.error('reload failed:', err instanceof Error ? err.message : err));
  });
}

/** `custodian serve -c FILE`. */
export async function runServe(file: string): Promise<number | RunningGateway> {
  const config = loadOrReport(file);
  if (!config) return 1;
  const gateway = await startGateway(config);
  console.error(`custodian: data plane ${gateway.dataUrl}, admin ${gateway.adminUrl}`);
  closeOnSignals(() => gateway.close());
  reloadOnHangup(() => gateway.reload());
  return gateway;
}
