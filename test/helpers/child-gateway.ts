import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { listSegments } from '../../src/audit/segments.js';
import type { ChainedRecord } from '../../src/audit/record.js';

export interface ChildGateway {
  readonly child: ChildProcess;
  readonly dataUrl: string;
  readonly adminUrl: string;
  /** The PostgreSQL front end's port, when the policy configures one. */
  readonly databasePort: number | undefined;
  /** Everything the gateway logged so far (with `log: true`). */
  log(): string;
  /** Whether the process has exited (a crash is seen as a crash). */
  exited(): boolean;
  stop(): Promise<void>;
}

/**
 * A gateway in a child process (test/helpers/gateway-process.ts): a crash ends the child, not
 * the test, so "the process is still serving" can be asserted. With `log`, its JSON log is kept.
 */
export function startChildGateway(file: string, varDir: string, options: { env?: NodeJS.ProcessEnv; log?: boolean } = {}): Promise<ChildGateway> {
  const env = { ...(options.env ?? process.env), ...(options.log ? { CUSTODIAN_TEST_LOG: 'info' } : {}) };
  const child = fork('test/helpers/gateway-process.ts', [file, varDir], {
    execArgv: ['--import', 'tsx'],
    env,
    stdio: options.log ? ['ignore', 'pipe', 'pipe', 'ipc'] : 'inherit',
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString('utf8');
  });
  let exitedAt: number | undefined;
  child.on('exit', () => {
    exitedAt = Date.now();
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { dataUrl: string; adminUrl: string; databasePort?: number }) =>
      resolve({
        child,
        ...m,
        databasePort: m.databasePort,
        log: () => output,
        exited: () => exitedAt !== undefined,
        stop: () =>
          new Promise<void>((done) => {
            if (exitedAt !== undefined) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      }),
    );
    child.once('exit', (code) => reject(new Error(`gateway exited ${code} before it listened: ${output.slice(-2000)}`)));
  });
}

/** Wait until the gateway reports every journal record shipped to the database. */
export async function waitShipped(adminUrl: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const res = await request(`${adminUrl}/readyz`).catch(() => undefined);
    const body = (await res?.body.json().catch(() => undefined)) as { audit?: { shipper?: { lagRecords: number } } } | undefined;
    if (body?.audit?.shipper?.lagRecords === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('shipping did not catch up');
}

/** Every record in a journal directory; a torn last line (after a kill) is skipped. */
export async function journalRecords(dir: string): Promise<ChainedRecord[]> {
  const segments = await listSegments(dir);
  return segments.flatMap((s) =>
    readFileSync(s.file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as ChainedRecord];
        } catch {
          return [];
        }
      }),
  );
}

/** Every journal line as text (for leak scans). */
export async function journalText(dir: string): Promise<string> {
  const segments = await listSegments(dir);
  return segments.map((s) => readFileSync(s.file, 'utf8')).join('');
}
