import { execFileSync } from 'node:child_process';

/**
 * A scratch database on the local PostgreSQL (127.0.0.1:5432, as on the development and CI
 * machines), or undefined when that server does not answer. Dropped by `drop`, even while a
 * process is still connected to it.
 */
export function scratchDatabase(): { url: string | undefined; drop: () => void } {
  const name = `custodian_bench_${Date.now()}_${process.pid}`;
  const psql = (sql: string) => execFileSync('psql', ['-q', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', sql], { stdio: 'ignore' });
  try {
    psql(`CREATE DATABASE ${name}`);
    return { url: `postgres://postgres@127.0.0.1:5432/${name}`, drop: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
  } catch {
    return { url: undefined, drop: () => undefined };
  }
}
