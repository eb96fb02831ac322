import { isMap, isPair, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import type { ConfigIssue, DocPath, PathIssue } from './issues.js';
import { pointer } from './issues.js';

/**
 * A parsed YAML file that can say which line any path in it came from, so that schema and
 * semantic errors point the security team at the exact line to fix.
 */
export interface YamlDocument {
  readonly value: unknown;
  /** YAML syntax errors (duplicate keys included); when non-empty, `value` is not to be trusted. */
  readonly syntaxIssues: readonly ConfigIssue[];
  locate(issue: PathIssue): ConfigIssue;
}

export function parseYaml(file: string, text: string): YamlDocument {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  // Only the first syntax error: the parser's later ones are that same mistake seen from every
  // line after it (one mis-indented key made 37 errors), and nothing after it can be trusted.
  const syntaxIssues: ConfigIssue[] = doc.errors.slice(0, 1).map((e) => {
    const pos = lineCounter.linePos(e.pos[0]);
    const message = e.message.split('\n')[0] ?? e.message;
    const more = doc.errors.length > 1 ? ' (YAML syntax; the file is not checked further until this line is fixed)' : ' (YAML syntax)';
    return { file, line: pos.line, column: pos.col, path: '', message: `${message}${more}` };
  });

  const positionOf = (offset: number | undefined) => lineCounter.linePos(offset ?? 0);

  function nodeAt(path: DocPath, atKey: boolean): { offset: number | undefined } {
    // Walk down as far as the document goes; a missing element points at its nearest parent.
    let node: unknown = doc.contents;
    let offset: number | undefined = (doc.contents as Node | null)?.range?.[0];
    for (let i = 0; i < path.length; i++) {
      const segment = path[i];
      if (!isMap(node) && !(node && typeof node === 'object' && 'items' in node)) break;
      const collection = node as { items: unknown[] };
      let next: unknown;
      let keyOffset: number | undefined;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
        if (!pair) break;
        keyOffset = (pair.key as Node).range?.[0];
        next = pair.value;
      } else if (typeof segment === 'number') {
        next = collection.items[segment];
      }
      if (next === undefined) break;
      const isLast = i === path.length - 1;
      offset = isLast && atKey && keyOffset !== undefined ? keyOffset : ((next as Node | null)?.range?.[0] ?? keyOffset);
      node = next;
    }
    return { offset };
  }

  return {
    value: syntaxIssues.length === 0 ? doc.toJS({ maxAliasCount: 100 }) : undefined,
    syntaxIssues,
    locate(issue) {
      const { offset } = nodeAt(issue.path, issue.atKey ?? false);
      const pos = positionOf(offset);
      return { file, line: pos.line, column: pos.col, path: pointer(issue.path), message: issue.message };
    },
  };
}
