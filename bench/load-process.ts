import { spawn } from 'node:child_process';

/** How long a load lasts: a number of seconds, or a number of requests (autocannon -a). */
export type LoadLength = { readonly seconds: number } | { readonly requests: number };

export interface LoadOptions {
  readonly headers?: readonly string[];
  /** Requests per second autocannon sends (-R); as many as it can when absent. */
  readonly rate?: number;
  /** Pin autocannon to this core, away from the process under measurement. */
  readonly core?: number;
  /** Concurrent connections (16 unless given). */
  readonly connections?: number;
  /** Seconds before autocannon counts a request as failed (its own default, 10, unless given). */
  readonly timeoutSeconds?: number;
}

/**
 * Load from a separate autocannon process, so the load generator's CPU is not counted in the
 * process being measured. Resolves with the number of requests answered; rejects if any answer
 * was not 2xx or any request failed.
 */
export function loadFromProcess(url: string, length: LoadLength, options: LoadOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const span = 'seconds' in length ? ['-d', String(length.seconds)] : ['-a', String(length.requests)];
    const rate = options.rate === undefined ? [] : ['-R', String(Math.round(options.rate))];
    const timeout = options.timeoutSeconds === undefined ? [] : ['-t', String(options.timeoutSeconds)];
    const headers = (options.headers ?? []).flatMap((h) => ['-H', h]);
    const cannon = ['npx', 'autocannon', '-j', '-c', String(options.connections ?? 16), ...span, ...rate, ...timeout, ...headers, url];
    const [command, ...args] = options.core === undefined ? cannon : ['taskset', '-c', String(options.core), ...cannon];
    const child = spawn(command as string, args, { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, NODE_TLS_REJECT_UNAUTHORIZED: '0' } });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.once('exit', () => {
      try {
        const result = JSON.parse(out) as { requests: { total: number }; non2xx: number; errors: number };
        if (result.non2xx || result.errors) reject(new Error(`${result.non2xx} non-2xx, ${result.errors} errors`));
        else resolve(result.requests.total);
      } catch (err) {
        reject(err);
      }
    });
  });
}
