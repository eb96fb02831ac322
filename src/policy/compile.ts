import { type Authenticator, createAuthenticator } from '../auth/authenticate.js';
import type { Config, UpstreamConfig } from '../config/types.js';
import { compileFieldPlan, type FieldPlan } from '../mask/plan.js';
import { type CompiledPurpose, compilePurposes } from './purposes.js';
import { compileRoutes, type RouteTable } from './routes.js';
import { compileSubjectPaths, type SubjectPath } from './subject-paths.js';
import { compileDatabasePolicy, type DatabasePolicy } from './database.js';
import { compileResponseHeaderPolicy, type ResponseHeaderPolicy } from '../upstream/response-header-policy.js';

/**
 * The immutable, compiled form of a configuration: everything the per-request path needs,
 * prepared once. A reload builds a new Policy and swaps it in whole.
 */
export interface Policy {
  readonly config: Config;
  /** SHA-256 prefix of the configuration file's bytes: the policy version in metrics and audit. */
  readonly version: string;
  readonly routes: RouteTable;
  readonly upstreams: ReadonlyMap<string, UpstreamConfig>;
  readonly authenticator: Authenticator;
  readonly purposes: ReadonlyMap<string, CompiledPurpose>;
  /** Route id → purposes allowed on it. */
  readonly routePurposes: ReadonlyMap<string, ReadonlySet<string>>;
  /** Route id → purpose → the compiled view of responses. */
  readonly plans: ReadonlyMap<string, ReadonlyMap<string, FieldPlan>>;
  /** Route id → where its responses name customers (JSON paths, compiled once). */
  readonly subjectPaths: ReadonlyMap<string, readonly SubjectPath[]>;
  /** Route id → which upstream response headers are released, and which after the detectors. */
  readonly responseHeaders: ReadonlyMap<string, ResponseHeaderPolicy>;
  /** The PostgreSQL front end's compiled policy, when configured. */
  readonly database: DatabasePolicy | undefined;
  /** The clock every time-dependent check of this policy reads (frozen in tests). */
  readonly now: () => number;
}

export interface CompileOptions {
  readonly now?: () => number;
}

export function compilePolicy(config: Config, options: CompileOptions = {}): Policy {
  const now = options.now ?? Date.now;
  const { table, issues } = compileRoutes(config.routes);
  // loadConfig already reported these with line numbers; a config that reaches here is clean.
  if (issues.length > 0) throw new Error(`policy does not compile: ${issues.map((i) => i.message).join('; ')}`);
  return Object.freeze({
    config,
    version: config.digest.slice(0, 12),
    routes: table,
    upstreams: config.upstreams,
    authenticator: createAuthenticator(config.auth, now, config.clients),
    purposes: compilePurposes(config.purposes),
    routePurposes: new Map(config.routes.map((r) => [r.id, new Set(r.purposes)])),
    plans: compilePlans(config),
    subjectPaths: new Map(config.routes.map((r) => [r.id, compileSubjectPaths(r.subjects)])),
    database: compileDatabasePolicy(config),
    responseHeaders: new Map(config.routes.map((r) => [r.id, compileResponseHeaderPolicy(r.responseHeaders)])),
    now,
  });
}

/** Holds the running policy; `swap` is atomic for every request that starts afterwards. */
export class PolicyHolder {
  #current: Policy;

  constructor(initial: Policy) {
    this.#current = initial;
  }

  get current(): Policy {
    return this.#current;
  }

  swap(next: Policy): void {
    this.#current = next;
  }
}

function compilePlans(config: Config): Map<string, Map<string, FieldPlan>> {
  const keys = { active: config.masking.activePseudonymKey, secrets: config.masking.pseudonymKeys };
  const plans = new Map<string, Map<string, FieldPlan>>();
  for (const route of config.routes) {
    const byPurpose = new Map<string, FieldPlan>();
    for (const purpose of route.purposes) byPurpose.set(purpose, compileFieldPlan(route, purpose, config.classification, keys));
    plans.set(route.id, byPurpose);
  }
  return plans;
}
