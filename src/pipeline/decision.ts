import type { Principal } from '../auth/principal.js';
import type { UpstreamConfig } from '../config/types.js';
import type { ErrorCode } from '../errors.js';
import type { ScopeFor } from '../governance/partner-scope.js';
import type { Policy } from '../policy/compile.js';
import type { CompiledPurpose } from '../policy/purposes.js';
import type { RequestTarget } from '../policy/request-target.js';
import type { RouteMatch } from '../policy/routes.js';
import type { SubjectSet } from '../audit/subjects.js';

/** How governance narrows the response of an allowed request (applied by the transform). */
export interface ResponseScope {
  /** Whether a customer is restricted (objection) for this request's purpose. */
  readonly isRestricted: (customerId: string) => boolean;
  /** Partner callers: the fields each customer's consent and contract allow (undefined: none). */
  readonly partnerScope: ScopeFor | undefined;
  /** Partner callers on a single-customer route: that customer's scope. */
  readonly partnerRecordScope: ReadonlySet<string> | undefined;
  /** The purpose has a bulk limit and the route names customers only in its response. */
  readonly countResponseCustomers: boolean;
}

/** Everything learned on the way to a decision; a refusal carries whatever was known by then. */
export interface DecisionContext {
  readonly policy: Policy;
  readonly target?: RequestTarget;
  readonly match?: RouteMatch;
  readonly upstream?: UpstreamConfig;
  readonly principal?: Principal;
  readonly purpose?: CompiledPurpose;
  /**
   * The purpose the caller declared, when it is a well-formed id (recorded even when refused, so
   * "who tried to read customer X for what" can be answered); never arbitrary header text.
   */
  readonly declaredPurpose?: string;
  /** Customers the request names (path and query), once a route matched. */
  readonly subjects?: SubjectSet;
}

export interface Allow extends DecisionContext {
  readonly allowed: true;
  readonly target: RequestTarget;
  readonly match: RouteMatch;
  readonly upstream: UpstreamConfig;
  readonly principal: Principal;
  readonly purpose: CompiledPurpose;
  readonly subjects: SubjectSet;
  readonly scope: ResponseScope;
  /** Set when this request took the caller over the purpose's bulk alert threshold. */
  readonly bulkAlert: number | undefined;
  /** Distinct customers the caller had in the bulk window after this request's own (undefined: no limit). */
  readonly bulkCount: number | undefined;
  /** Destructive routes: the approval id to consume once the body is known (four-eyes). */
  readonly approvalToConsume: string | undefined;
}

export interface Deny extends DecisionContext {
  readonly allowed: false;
  readonly code: ErrorCode;
  /** A safe hint for the client (never request data). */
  readonly hint?: string;
}

export type Decision = Allow | Deny;
