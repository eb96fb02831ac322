import { DETECTOR_KINDS } from '../mask/detectors.js';
import type { Config, DatabaseConfig, DatabaseTableConfig, RouteConfig } from '../config/types.js';
import { compileFieldPlan, type FieldRule } from '../mask/plan.js';
import type { StatementCatalogue, TableView } from './statement.js';

/** What one purpose sees of the database: the statement catalogue and each column's rule. */
export interface DatabasePurposeView {
  readonly catalogue: StatementCatalogue;
  /** table → column → how its values are released. */
  readonly columns: ReadonlyMap<string, ReadonlyMap<string, FieldRule>>;
}

export interface DatabasePolicy {
  readonly purposes: ReadonlySet<string>;
  readonly tables: ReadonlyMap<string, DatabaseTableConfig>;
  readonly byPurpose: ReadonlyMap<string, DatabasePurposeView>;
}

// Column types whose values cannot carry an identifier the detectors would mask in free text.
const NON_TEXT_TYPES = new Set([16, 20, 21, 23, 700, 701, 1082, 1083, 1114, 1184, 1186, 1700, 2950]);

/**
 * Whether a column may be used in conditions, ordering and functions: it is released as it is,
 * and it is not free text the detectors scan (a LIKE on a remarks column could find, digit by
 * digit, the identifiers masked in it). Public columns are clear; C1 columns are when their type
 * (from the database catalogue, once known) is not text.
 */
export function clearForConditions(rule: FieldRule, typeId: number | undefined): boolean {
  if (rule.operator.action !== 'kept') return false;
  if (rule.dataClass === 'public' || !rule.scan) return true;
  return typeId !== undefined && NON_TEXT_TYPES.has(typeId);
}

/**
 * A purpose's catalogue with the column types the database reported: C1 columns of non-text types
 * become usable in conditions.
 */
export function withColumnTypes(view: DatabasePurposeView, types: ReadonlyMap<string, number>): StatementCatalogue {
  const tables = new Map<string, TableView>();
  for (const [table, rules] of view.columns) {
    const columns = new Map<string, { clear: boolean }>();
    for (const [column, rule] of rules) columns.set(column, { clear: clearForConditions(rule, types.get(`${table}.${column}`)) });
    tables.set(table, { columns });
  }
  return { tables, functions: view.catalogue.functions };
}

/** The database front end's views, in the shape of a route: its columns get the rules JSON fields of the same name would. */
export function databaseAsRoute(db: DatabaseConfig): RouteConfig {
  return {
    id: '(database)',
    methods: ['GET'],
    path: '/',
    upstream: '(database)',
    purposes: db.purposes,
    unknownFields: 'drop',
    detectors: true,
    detectorKinds: DETECTOR_KINDS,
    observe: false,
    passthrough: [],
    views: db.views,
    subjects: [],
    destructive: false,
    responseHeaders: { release: [], scan: [] },
  };
}

/**
 * The database front end's policy, compiled once per configuration: for each database purpose,
 * the tables it may read and, per column, the same masking rule a JSON field of that dictionary
 * name gets under that purpose's view. A column is clear for the statement policy only when it
 * is released as it is and is not free text the detectors scan (a condition on a remarks column
 * could find the identifiers the detectors mask in it).
 */
export function compileDatabasePolicy(config: Config): DatabasePolicy | undefined {
  const db = config.database;
  if (!db) return undefined;
  const keys = { active: config.masking.activePseudonymKey, secrets: config.masking.pseudonymKeys };
  const asRoute = databaseAsRoute(db);
  const byPurpose = new Map<string, DatabasePurposeView>();
  for (const purpose of db.purposes) {
    const plan = compileFieldPlan(asRoute, purpose, config.classification, keys);
    const tables = new Map<string, TableView>();
    const columns = new Map<string, Map<string, FieldRule>>();
    for (const table of db.tables.values()) {
      if (!table.purposes.includes(purpose)) continue;
      const rules = new Map<string, FieldRule>();
      const view = new Map<string, { clear: boolean }>();
      for (const [column, field] of table.columns) {
        const rule = plan.byName.get(field) ?? plan.unknown;
        rules.set(column, rule);
        view.set(column, { clear: clearForConditions(rule, undefined) });
      }
      tables.set(table.name, { columns: view });
      columns.set(table.name, rules);
    }
    byPurpose.set(purpose, { catalogue: { tables, functions: new Set(db.functions) }, columns });
  }
  return Object.freeze({ purposes: new Set(db.purposes), tables: db.tables, byPurpose });
}
