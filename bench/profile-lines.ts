/**
 * The most expensive source lines of a CPU profile of the gateway run from its build (dist/),
 * mapped back to src/ through the build's source maps. Stage totals say which module costs what;
 * lines say which statement, so a stage's cost can be read against its floor (a JSON.parse of the
 * body, a JSON.stringify of a record) rather than guessed at. Only a build gives line positions:
 * code run through tsx reports every sample at line 1 of its module.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface LineNode {
  readonly id: number;
  readonly callFrame: { readonly url: string };
  readonly hitCount?: number;
  readonly positionTicks?: readonly { readonly line: number; readonly ticks: number }[];
}

export interface CostlyLine {
  /** src/…ts:line */
  readonly where: string;
  /** The statement on that line, trimmed. */
  readonly code: string;
  /** Main-thread CPU per request, µs. */
  readonly us: number;
}

const root = process.cwd();
/** Where the gateway's build lives (file URL, with a trailing slash): only its modules carry line positions. */
export const buildUrl = `${pathToFileURL(join(root, 'dist')).href}/`;

interface MappedFile {
  readonly js: readonly string[];
  readonly map: SourceMap | undefined;
  readonly sources: Map<string, readonly string[]>;
}

function mappedFile(url: string): MappedFile {
  const path = fileURLToPath(url);
  const js = readFileSync(path, 'utf8').split('\n');
  let map: SourceMap | undefined;
  try {
    map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')));
  } catch {
    map = undefined;
  }
  return { js, map, sources: new Map() };
}

/** The src/ position and text of a dist/ line (its first statement's mapping), or the dist line itself. */
function sourceLine(file: MappedFile, url: string, line: number): { where: string; code: string } {
  const text = file.js[line - 1] ?? '';
  const column = text.length - text.trimStart().length;
  const entry = file.map?.findEntry(line - 1, column) as { originalSource?: string; originalLine?: number } | undefined;
  if (entry?.originalSource && entry.originalLine !== undefined) {
    const sourcePath = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : join(fileURLToPath(url), '..', entry.originalSource);
    let lines = file.sources.get(sourcePath);
    if (!lines) {
      lines = readFileSync(sourcePath, 'utf8').split('\n');
      file.sources.set(sourcePath, lines);
    }
    return { where: `${relative(root, sourcePath)}:${entry.originalLine + 1}`, code: (lines[entry.originalLine] ?? '').trim() };
  }
  return { where: `${relative(root, fileURLToPath(url))}:${line}`, code: text.trim() };
}

/**
 * Each profile node's own time (`selfUs`, from the samples) shared among its lines by their tick
 * counts, summed per source line over every node of the build, largest first.
 */
export function costlyLines(nodes: readonly LineNode[], selfUs: ReadonlyMap<number, number>, requests: number, top: number): CostlyLine[] {
  const files = new Map<string, MappedFile>();
  const byLine = new Map<string, { code: string; us: number }>();
  for (const node of nodes) {
    const url = node.callFrame.url;
    const ticks = node.positionTicks ?? [];
    const self = selfUs.get(node.id) ?? 0;
    if (!url.startsWith(buildUrl) || ticks.length === 0 || self === 0) continue;
    let file = files.get(url);
    if (!file) {
      file = mappedFile(url);
      files.set(url, file);
    }
    const total = ticks.reduce((n, t) => n + t.ticks, 0);
    for (const t of ticks) {
      const { where, code } = sourceLine(file, url, t.line);
      const entry = byLine.get(where) ?? { code, us: 0 };
      entry.us += (self * t.ticks) / total / requests;
      byLine.set(where, entry);
    }
  }
  return [...byLine]
    .map(([where, { code, us }]) => ({ where, code, us }))
    .sort((a, b) => b.us - a.us)
    .slice(0, top);
}
