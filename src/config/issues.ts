/** A problem found in a configuration file, located by file, line and JSON path. */
export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** JSON-pointer-like path inside the document, e.g. /routes/2/upstream */
  readonly path: string;
  readonly message: string;
}

export function formatIssue(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.column} ${issue.path || '/'}: ${issue.message}`;
}

/** Thrown when a configuration cannot be loaded; carries every issue found, not just the first. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(`configuration has ${issues.length} error(s):\n${issues.map(formatIssue).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = Object.freeze([...issues]);
  }
}

/** A path inside the document, as keys and indexes. */
export type DocPath = readonly (string | number)[];

export function pointer(path: DocPath): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/** An issue that knows its document path but not yet its line. */
export interface PathIssue {
  readonly path: DocPath;
  readonly message: string;
  /** Point at the key of the last path element rather than its value (unknown keys). */
  readonly atKey?: boolean;
}
