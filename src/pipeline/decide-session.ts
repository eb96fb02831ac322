import type { Principal, PresentedCertificate } from '../auth/principal.js';
import type { ErrorCode } from '../errors.js';
import type { Policy } from '../policy/compile.js';
import type { DatabasePurposeView } from '../policy/database.js';
import { authorizePurpose, type CompiledPurpose, PURPOSE_ID } from '../policy/purposes.js';

/** What a PostgreSQL client tells the gateway at startup. */
export interface SessionFacts {
  /** The password message: a bearer token (sent only over TLS). */
  readonly password: string | undefined;
  /** `options=-c custodian.purpose=…`, else `application_name` when it is a purpose id. */
  readonly declaredPurposes: readonly string[];
  readonly certificate: PresentedCertificate | undefined;
}

export type SessionDecision =
  | { readonly allowed: true; readonly principal: Principal; readonly purpose: CompiledPurpose; readonly view: DatabasePurposeView }
  | { readonly allowed: false; readonly code: ErrorCode; readonly hint?: string; readonly principal?: Principal; readonly declaredPurpose?: string };

/**
 * A database session's decision, made once at startup: the same authentication (token as the
 * password, or a verified certificate), purpose catalogue, roles, attestations and review dates
 * as an HTTP request. Each statement is then judged by the statement policy of that purpose.
 * Partners are not served here: their per-customer consent scopes records, not tables.
 */
export async function decideSession(facts: SessionFacts, policy: Policy): Promise<SessionDecision> {
  const declared = facts.declaredPurposes.length === 1 ? (facts.declaredPurposes[0] as string).trim() : undefined;
  const declaredPurpose = declared !== undefined && PURPOSE_ID.test(declared) ? declared : undefined;
  const database = policy.database;
  if (!database) return { allowed: false, code: 'CUSTODIAN_ROUTE_NOT_FOUND', declaredPurpose };
  const auth = await policy.authenticator.authenticate({
    authorization: facts.password ? [`Bearer ${facts.password}`] : [],
    rawQuery: '',
    certificate: facts.certificate,
  });
  if (!auth.ok) return { allowed: false, code: auth.code, hint: auth.hint, declaredPurpose };
  const principal = auth.principal;
  if (principal.kind === 'partner') {
    return { allowed: false, code: 'CUSTODIAN_CONSENT_REQUIRED', hint: 'Partners are served through the API, where each customer’s consent applies.', principal, declaredPurpose };
  }
  const authorized = authorizePurpose(facts.declaredPurposes, principal, database.purposes, policy.purposes, policy.now() / 1000);
  if (!authorized.ok) return { allowed: false, code: authorized.code, hint: authorized.hint, principal, declaredPurpose };
  if (authorized.purpose.config.lawfulBasis === 'consent') {
    // A session's rows are not judged customer by customer against consents: fail closed.
    return { allowed: false, code: 'CUSTODIAN_CONSENT_REQUIRED', hint: 'A consent-based purpose is served through the API, where each customer’s consent applies.', principal, declaredPurpose };
  }
  const view = database.byPurpose.get(authorized.purpose.config.id);
  if (!view) return { allowed: false, code: 'CUSTODIAN_PURPOSE_NOT_ALLOWED', principal, declaredPurpose };
  return { allowed: true, principal, purpose: authorized.purpose, view };
}

/**
 * The purpose a client declared: `-c custodian.purpose=ID` (or `--custodian.purpose=ID`) in the
 * startup `options`, every occurrence (several is refused, as several X-Purpose headers are);
 * failing that, `application_name`.
 */
export function declaredPurposesOf(options: string | undefined, applicationName: string | undefined): string[] {
  const found: string[] = [];
  const words = (options ?? '').split(/\s+/).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    let w = words[i] as string;
    if (w === '-c') w = words[++i] ?? '';
    else if (w.startsWith('-c')) w = w.slice(2);
    else if (w.startsWith('--')) w = w.slice(2);
    else continue;
    const eq = w.indexOf('=');
    if (eq !== -1 && w.slice(0, eq).toLowerCase() === 'custodian.purpose') found.push(w.slice(eq + 1));
  }
  if (found.length === 0 && applicationName) found.push(applicationName);
  return found;
}
