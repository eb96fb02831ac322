import { fingerprintSync, loadModule, normalizeSync, parseSync } from 'libpg-query';

/**
 * The statement policy of the PostgreSQL front end, decided on the real PostgreSQL parser
 * (libpg-query): what one SQL string may do for one purpose. Protocol-free: the wire glue hands
 * it text, it answers allow (with what the statement reads) or refuse (with a reason).
 *
 * The rule that closes inference through predicates is deliberately simple: a column the purpose
 * may only see masked (or not at all) may be *selected as it is* — the result is then masked row
 * by row — and may appear nowhere else: not in WHERE, JOIN … ON, GROUP BY, HAVING, ORDER BY,
 * DISTINCT ON, window definitions, function or aggregate arguments, casts, CASE, set operations or
 * subquery expressions. `WHERE id_number LIKE '1101%'` would otherwise reveal the masked digits one
 * query at a time, and `substring(id_number, 7, 8)` would release a birth date with no source
 * column for the masker to recognise.
 */

/** What a purpose sees of one table: each listed column, and whether it is released in clear. */
export interface TableView {
  readonly columns: ReadonlyMap<string, { readonly clear: boolean }>;
}

/** The part of the database policy one purpose's statements are checked against. */
export interface StatementCatalogue {
  /** Tables this purpose may read (unqualified or `schema.table` names, lower case). */
  readonly tables: ReadonlyMap<string, TableView>;
  /** Functions (lower case, unqualified) a statement may call. */
  readonly functions: ReadonlySet<string>;
}

export type StatementRefusal =
  | 'unparsable'
  | 'multiple_statements'
  | 'statement_kind'
  | 'unknown_table'
  | 'function_not_allowed'
  | 'masked_column_in_expression'
  | 'select_into'
  | 'row_locking'
  | 'setting_not_allowed';

export type StatementAnalysis =
  | {
      readonly ok: true;
      readonly kind: 'select' | 'transaction' | 'show' | 'set' | 'empty';
      /** Tables read, as `table` names of the catalogue. */
      readonly tables: readonly string[];
      /** The statement with its literals replaced by $n: what the access record keeps. */
      readonly normalized: string;
      readonly fingerprint: string;
    }
  | { readonly ok: false; readonly reason: StatementRefusal; readonly detail: string };

/** Functions a read-only analyst query commonly needs; nothing that reads files, sleeps or calls out. */
export const DEFAULT_FUNCTIONS: readonly string[] = [
  'count', 'sum', 'avg', 'min', 'max', 'coalesce', 'nullif', 'greatest', 'least',
  'lower', 'upper', 'length', 'trim', 'round', 'floor', 'ceil', 'abs',
  'now', 'current_date', 'date_trunc', 'date_part', 'extract', 'age', 'to_char',
];

/** Settings a client may change (BI tools and drivers set these); nothing that changes name resolution. */
const SETTABLE = new Set(['application_name', 'datestyle', 'extra_float_digits', 'client_encoding', 'intervalstyle', 'timezone', 'statement_timeout']);

let loaded: Promise<void> | undefined;

/** Load the parser (WebAssembly) once per process, before the first statement is analysed. */
export function loadStatementParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

type Node = Record<string, unknown>;

class Refused extends Error {
  constructor(
    readonly reason: StatementRefusal,
    readonly detail: string,
  ) {
    super(detail);
  }
}

function isNode(value: unknown): value is Node {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function nameOf(fields: unknown): string[] {
  return Array.isArray(fields) ? fields.map((f) => (isNode(f) && isNode(f.String) ? String(f.String.sval) : '*')) : [];
}

/**
 * What a SELECT outputs, by column name: whether each is clear. 'opaque' when it cannot be told
 * (`SELECT *` inside a CTE or subquery): every column of it is then treated as masked.
 */
type Outputs = ReadonlyMap<string, boolean> | 'opaque';

/** A name in FROM: a table of the catalogue, or a CTE / subquery with its outputs. */
type Source = { readonly table: string } | { readonly derived: Outputs };

/** One SELECT (or a subquery of it): its sources by alias, and the CTEs it defines. */
interface Scope {
  readonly aliases: Map<string, Source>;
  readonly parent: Scope | undefined;
  readonly ctes: Map<string, Outputs>;
}

class Analyzer {
  readonly tables = new Set<string>();

  constructor(private readonly catalogue: StatementCatalogue) {}

  /** A table reference: it must be in the purpose's catalogue (a CTE name is not a table). */
  #table(rangeVar: Node, scope: Scope): void {
    const rel = String(rangeVar.relname ?? '').toLowerCase();
    const schema = rangeVar.schemaname ? String(rangeVar.schemaname).toLowerCase() : undefined;
    const alias = (isNode(rangeVar.alias) ? String(rangeVar.alias.aliasname) : rel).toLowerCase();
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      const cte = schema ? undefined : s.ctes.get(rel);
      if (cte) {
        scope.aliases.set(alias, { derived: cte });
        return;
      }
    }
    const name = schema && schema !== 'public' ? `${schema}.${rel}` : rel;
    if (!this.catalogue.tables.has(name)) throw new Refused('unknown_table', `table "${name}" is not open to this purpose`);
    this.tables.add(name);
    scope.aliases.set(alias, { table: name });
  }

  /** Whether a column reference could be a column this purpose does not see in clear. */
  couldBeMasked(fields: string[], scope: Scope): boolean {
    const column = (fields.at(-1) ?? '').toLowerCase();
    if (column === '*') return false;
    const qualifier = fields.length >= 2 ? (fields.at(-2) ?? '').toLowerCase() : undefined;
    const candidates: Source[] = [];
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      if (qualifier !== undefined) {
        const source = s.aliases.get(qualifier);
        if (source) {
          candidates.push(source);
          break;
        }
      } else candidates.push(...s.aliases.values());
    }
    // Which sources have a column of that name, and is it clear in each.
    const verdicts: boolean[] = [];
    for (const source of candidates) {
      if ('table' in source) {
        const entry = this.catalogue.tables.get(source.table)?.columns.get(column);
        if (entry) verdicts.push(entry.clear);
      } else if (source.derived === 'opaque') verdicts.push(false);
      else if (source.derived.has(column)) verdicts.push(source.derived.get(column) === true);
    }
    // Nowhere to be found (a column the catalogue does not list, or an unresolvable reference):
    // it is not released, so it is as sensitive as a masked one.
    return verdicts.length === 0 || verdicts.some((clear) => !clear);
  }

  /** Any expression in a position that compares, computes or orders: no masked column may be in it. */
  expression(node: unknown, scope: Scope): void {
    if (Array.isArray(node)) {
      for (const n of node) this.expression(n, scope);
      return;
    }
    if (!isNode(node)) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'ColumnRef' && isNode(value)) {
        const fields = nameOf(value.fields);
        if (this.couldBeMasked(fields, scope)) {
          throw new Refused('masked_column_in_expression', `column "${fields.join('.')}" may only be selected as it is, not used in a condition, ordering, grouping or function`);
        }
        continue;
      }
      if (key === 'FuncCall' && isNode(value)) this.#function(value);
      if (key === 'SubLink' && isNode(value)) {
        // A subquery inside an expression: everything it reads serves the comparison.
        this.expression(value.testexpr, scope);
        this.select(value.subselect, scope, true);
        continue;
      }
      if (key === 'SelectStmt') {
        this.select({ SelectStmt: value }, scope, true);
        continue;
      }
      this.expression(value, scope);
    }
  }

  #function(call: Node): void {
    const name = (nameOf(call.funcname).at(-1) ?? '').toLowerCase();
    if (!this.catalogue.functions.has(name)) throw new Refused('function_not_allowed', `function "${name}" is not allowed`);
  }

  /** FROM items: tables, joins (their ON is an expression), subqueries (selects of their own). */
  #from(items: unknown, scope: Scope, inExpression: boolean): void {
    for (const item of Array.isArray(items) ? items : [items]) {
      if (!isNode(item)) continue;
      if (isNode(item.RangeVar)) this.#table(item.RangeVar, scope);
      else if (isNode(item.JoinExpr)) {
        this.#from([item.JoinExpr.larg, item.JoinExpr.rarg], scope, inExpression);
        if (item.JoinExpr.usingClause) throw new Refused('masked_column_in_expression', 'JOIN … USING compares columns; write the condition with ON');
        this.expression(item.JoinExpr.quals, scope);
      } else if (isNode(item.RangeSubselect)) {
        const outputs = this.select(item.RangeSubselect.subquery, scope, inExpression);
        const alias = isNode(item.RangeSubselect.alias) ? String(item.RangeSubselect.alias.aliasname).toLowerCase() : '';
        scope.aliases.set(alias, { derived: outputs });
      }
      else if (isNode(item.RangeFunction)) {
        throw new Refused('function_not_allowed', 'set-returning functions in FROM are not allowed');
      } else throw new Refused('statement_kind', `unsupported FROM item ${Object.keys(item)[0]}`);
    }
  }

  /**
   * A SELECT: its target columns may be masked columns selected as they are (unless the whole
   * select serves an expression); everything else is an expression position.
   */
  select(wrapper: unknown, parent: Scope | undefined, inExpression: boolean): Outputs {
    const stmt = isNode(wrapper) && isNode(wrapper.SelectStmt) ? wrapper.SelectStmt : undefined;
    if (!stmt) throw new Refused('statement_kind', 'expected a SELECT');
    const scope: Scope = { aliases: new Map(), parent, ctes: new Map() };
    if (stmt.intoClause) throw new Refused('select_into', 'SELECT … INTO writes a table');
    if (stmt.lockingClause) throw new Refused('row_locking', 'FOR UPDATE/SHARE locks rows');
    if (isNode(stmt.withClause)) {
      if (stmt.withClause.recursive) throw new Refused('statement_kind', 'recursive CTEs are not allowed');
      for (const cte of (stmt.withClause.ctes as unknown[]) ?? []) {
        const c = isNode(cte) && isNode(cte.CommonTableExpr) ? cte.CommonTableExpr : undefined;
        if (!c) continue;
        scope.ctes.set(String(c.ctename).toLowerCase(), this.select(c.ctequery, scope, inExpression));
      }
    }
    if (stmt.op && stmt.op !== 'SETOP_NONE') {
      // UNION / INTERSECT / EXCEPT compare whole rows: every side is an expression position.
      this.select({ SelectStmt: stmt.larg }, scope, true);
      this.select({ SelectStmt: stmt.rarg }, scope, true);
      return 'opaque';
    }
    if (stmt.valuesLists) {
      this.expression(stmt.valuesLists, scope);
      return 'opaque';
    }
    this.#from(stmt.fromClause ?? [], scope, inExpression);
    const outputs = new Map<string, boolean>();
    let opaque = false;
    for (const target of (stmt.targetList as unknown[]) ?? []) {
      const res = isNode(target) && isNode(target.ResTarget) ? target.ResTarget : undefined;
      const val = res?.val;
      if (!inExpression && isNode(val) && isNode(val.ColumnRef)) {
        // Selected as it is: masked in the result. Its clarity travels with the output name.
        const fields = nameOf(val.ColumnRef.fields);
        const column = (fields.at(-1) ?? '').toLowerCase();
        if (column === '*') opaque = true;
        else outputs.set(String(res?.name ?? column).toLowerCase(), !this.couldBeMasked(fields, scope));
        continue;
      }
      // Anything computed was checked to use clear columns only.
      this.expression(val, scope);
      if (res?.name) outputs.set(String(res.name).toLowerCase(), true);
    }
    for (const clause of ['whereClause', 'groupClause', 'havingClause', 'sortClause', 'windowClause', 'distinctClause', 'limitCount', 'limitOffset']) {
      this.expression(stmt[clause], scope);
    }
    return opaque ? 'opaque' : outputs;
  }
}

/** Analyse one SQL string for one purpose's catalogue. Call loadStatementParser() first. */
export function analyzeStatement(sql: string, catalogue: StatementCatalogue): StatementAnalysis {
  // An empty query string is valid on the wire (EmptyQueryResponse); the parser refuses it.
  if (sql.trim() === '') return { ok: true, kind: 'empty', tables: [], normalized: '', fingerprint: '' };
  let parsed: { stmts?: { stmt?: Node }[] };
  try {
    parsed = parseSync(sql) as { stmts?: { stmt?: Node }[] };
  } catch {
    // The parser's message quotes the text near the error; it is not repeated to anyone.
    return { ok: false, reason: 'unparsable', detail: 'the statement could not be parsed' };
  }
  const stmts = parsed.stmts ?? [];
  const done = (kind: 'select' | 'transaction' | 'show' | 'set' | 'empty', tables: readonly string[] = []): StatementAnalysis => ({
    ok: true,
    kind,
    tables,
    normalized: stmts.length === 0 ? '' : normalizeSync(sql),
    fingerprint: stmts.length === 0 ? '' : fingerprintSync(sql),
  });
  if (stmts.length === 0) return done('empty');
  if (stmts.length > 1) return { ok: false, reason: 'multiple_statements', detail: 'send one statement at a time' };
  const stmt = stmts[0]?.stmt ?? {};
  const kind = Object.keys(stmt)[0] ?? '';
  try {
    switch (kind) {
      case 'SelectStmt': {
        const analyzer = new Analyzer(catalogue);
        analyzer.select(stmt, undefined, false);
        return done('select', [...analyzer.tables].sort());
      }
      case 'TransactionStmt':
        return done('transaction');
      case 'VariableShowStmt':
        return done('show');
      case 'VariableSetStmt': {
        const name = String((stmt.VariableSetStmt as Node).name ?? '').toLowerCase();
        if (!SETTABLE.has(name)) return { ok: false, reason: 'setting_not_allowed', detail: `setting "${name}" may not be changed through the gateway` };
        return done('set');
      }
      default:
        return { ok: false, reason: 'statement_kind', detail: `${kind.replace(/Stmt$/, '') || 'this statement'} is not allowed for this purpose` };
    }
  } catch (err) {
    if (err instanceof Refused) return { ok: false, reason: err.reason, detail: err.detail };
    throw err;
  }
}
