import { spawn } from 'node:child_process';

/**
 * Load from a separate autocannon process (16 connections) for `seconds`, so the load generator's
 * CPU is not counted in the process being measured. Resolves with the number of requests
 * answered; rejects if any answer was not 2xx or any request failed.
 */
export function loadFromProcess(url: string, seconds: number, options: { headers?: readonly string[]; rate?: number; core?: number } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const rate = options.rate === undefined ? [] : ['-R', String(Math.round(options.rate))];
    const headers = (options.headers ?? []).flatMap((h) => ['-H', h]);
    const cannon = ['npx', 'autocannon', '-j', '-c', '16', '-d', String(seconds), ...rate, ...headers, url];
    // With a core given, autocannon is pinned to it, away from the process under measurement.
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
