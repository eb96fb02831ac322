import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/** One measured figure with the target it is held to. */
export interface BenchRow {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** Human-readable target, e.g. "≤ 20 µs". */
  readonly target: string;
  readonly pass: boolean | undefined;
  readonly note?: string;
}

export interface BenchSection {
  readonly title: string;
  readonly description: string;
  readonly rows: readonly BenchRow[];
}

function version(pkg: string): string {
  try {
    return JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, 'utf8')).version;
  } catch {
    return '?';
  }
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  let kernel = '';
  try {
    kernel = execFileSync('uname', ['-sr']).toString().trim();
  } catch {
    kernel = process.platform;
  }
  return `${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${kernel}`;
}

/** Write bench/RESULTS.md: date, machine, versions, every figure beside its target. */
export function writeResults(sections: readonly BenchSection[], file = 'bench/RESULTS.md'): string {
  const lines = [
    '# Benchmark results',
    '',
    `- date: ${new Date().toISOString()}`,
    `- machine: ${machine()}`,
    `- node ${process.version}; fastify ${version('fastify')}, @fastify/http-proxy ${version('@fastify/http-proxy')}, undici ${version('undici')}, jose ${version('jose')}, lru-cache ${version('lru-cache')}`,
    '- produced by `npm run bench`; figures from one run, compared side by side within it',
    '',
  ];
  for (const section of sections) {
    lines.push(`## ${section.title}`, '', section.description, '', '| measure | result | target | met |', '|---|---|---|---|');
    for (const row of section.rows) {
      const met = row.pass === undefined ? '—' : row.pass ? 'yes' : '**no**';
      const value = Number.isInteger(row.value) ? String(row.value) : row.value.toFixed(row.value < 10 ? 2 : 1);
      lines.push(`| ${row.name}${row.note ? ` (${row.note})` : ''} | ${value} ${row.unit} | ${row.target} | ${met} |`);
    }
    lines.push('');
  }
  const text = lines.join('\n');
  writeFileSync(file, text);
  return text;
}
