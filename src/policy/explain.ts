import { mapClaims } from '../auth/claims.js';
import type { Principal } from '../auth/principal.js';
import type { ErrorCode } from '../errors.js';
import type { FieldPlan, FieldRule } from '../mask/plan.js';
import { FieldReport } from '../mask/report.js';
import { TransformError, transformValue } from '../mask/walk.js';
import type { Policy } from './compile.js';
import { authorizePurpose } from './purposes.js';
import { parseRequestTarget } from './request-target.js';

/** One field of a sample body and what the view does to it. */
export interface FieldExplanation {
  readonly path: string;
  readonly class: string;
  readonly action: string;
  readonly rule: 'path' | 'name' | 'unknown field';
}

export interface Explanation {
  readonly decision: 'allow' | 'deny' | 'observe';
  readonly reason: ErrorCode | 'OK';
  readonly route: string | undefined;
  readonly purpose: string | undefined;
  readonly principal: Pick<Principal, 'subject' | 'kind' | 'organisation' | 'roles'> | undefined;
  readonly fields: readonly FieldExplanation[];
  /** The purpose's view of the sample body, exactly as the gateway would release it. */
  readonly view: unknown;
}

/** A principal from claims, mapped by the issuer named in `iss` (or the only issuer). */
export function principalFromClaims(policy: Policy, claims: Record<string, unknown>): Principal | string {
  const issuers = policy.config.auth.issuers;
  const issuer = issuers.find((i) => i.issuer === claims.iss) ?? (issuers.length === 1 ? issuers[0] : undefined);
  const mapping = issuer?.claims ?? { subject: 'sub', roles: 'roles', kind: 'kind', defaultKind: 'staff' as const, organisation: 'org', attestations: 'attestations' };
  const mapped = mapClaims(claims, mapping);
  if (typeof mapped === 'string') return mapped;
  return { ...mapped, via: 'token', issuer: issuer?.id, certificateThumbprint: undefined };
}

function listFields(value: unknown, plan: FieldPlan, path: string, out: FieldExplanation[], depth = 0): void {
  if (depth > 64 || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    // One representative per array: the view is the same for every item.
    const seen = new Set<string>();
    for (const item of value) {
      const before = out.length;
      listFields(item, plan, `${path}[*]`, out, depth + 1);
      for (const f of out.splice(before)) {
        if (seen.has(f.path)) continue;
        seen.add(f.path);
        out.push(f);
      }
    }
    return;
  }
  for (const key of Object.keys(value)) {
    const childPath = `${path}.${key}`;
    const byPath = plan.byPath.get(childPath);
    const rule: FieldRule = byPath ?? plan.byName.get(key) ?? plan.unknown;
    out.push({ path: childPath, class: rule.dataClass, action: rule.operator.action, rule: byPath ? 'path' : rule === plan.unknown ? 'unknown field' : 'name' });
    if (rule.operator.action === 'kept') listFields((value as Record<string, unknown>)[key], plan, childPath, out, depth + 1);
  }
}

/**
 * What would happen to this request, and why: the same stages the gateway runs (target check,
 * route, purpose, view), without the network. Used by `custodian explain` and `custodian test`.
 */
export function explainRequest(
  policy: Policy,
  input: { method: string; path: string; principal: Principal | undefined; purposes: readonly string[]; body?: unknown },
): Explanation {
  const deny = (reason: ErrorCode, extra: Partial<Explanation> = {}): Explanation => ({
    decision: 'deny',
    reason,
    route: undefined,
    purpose: undefined,
    principal: input.principal,
    fields: [],
    view: undefined,
    ...extra,
  });
  const target = parseRequestTarget(input.path, policy.config.limits.maxPathLength);
  if (!target.ok) return deny('CUSTODIAN_PATH_INVALID');
  if (!input.principal) return deny('CUSTODIAN_AUTH_MISSING');
  const match = policy.routes.match(input.method.toUpperCase(), target.target.segments);
  if (!match) return deny('CUSTODIAN_ROUTE_NOT_FOUND');
  const route = match.route.config;
  const decision = authorizePurpose(input.purposes, input.principal, policy.routePurposes.get(route.id) ?? new Set(), policy.purposes, policy.now() / 1000);
  if (!decision.ok) return deny(decision.code, { route: route.id });
  const purpose = decision.purpose.config.id;
  const plan = policy.plans.get(route.id)?.get(purpose);
  const fields: FieldExplanation[] = [];
  let view: unknown;
  if (input.body !== undefined && plan) {
    listFields(input.body, plan, '$', fields);
    try {
      view = JSON.parse(JSON.stringify(transformValue(input.body, plan, new FieldReport())));
    } catch (err) {
      if (err instanceof TransformError) return deny('CUSTODIAN_TRANSFORM_INVALID_BODY', { route: route.id, purpose });
      throw err;
    }
    if (route.observe) view = input.body;
  }
  return { decision: route.observe ? 'observe' : 'allow', reason: 'OK', route: route.id, purpose, principal: input.principal, fields, view };
}
