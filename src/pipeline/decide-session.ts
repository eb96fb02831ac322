import type { Principal, PresentedCertificate } from '../auth/principal.js';
import type { ErrorCode } from '../errors.js';
import type { Policy } from '../policy/compile.js';
import type { DatabasePurposeView } from '../policy/database.js';
import { attributeEndUser } from '../auth/end-user.js';
import { applicationDatabasePurpose } from '../policy/application-purpose.js';
import { authorizePurpose, type CompiledPurpose, declaredPurposeOf } from '../policy/purposes.js';

/** What a PostgreSQL client tells the gateway at startup. */
export interface SessionFacts {
  /** The password message: a bearer token (sent only over TLS), or a person's token from an application. */
  readonly password: string | undefined;
  /** Every `-c custodian.purpose=…` in the startup `options`. */
  readonly optionPurposes: readonly string[];
  /** The startup `application_name`, which names a purpose when no option does. */
  readonly applicationName: string | undefined;
  readonly certificate: PresentedCertificate | undefined;
}

export type SessionDecision =
  | { readonly allowed: true; readonly principal: Principal; readonly purpose: CompiledPurpose; readonly view: DatabasePurposeView }
  | { readonly allowed: false; readonly code: ErrorCode; readonly hint?: string; readonly principal?: Principal; readonly declaredPurpose?: string };

const NO_HEADERS: ReadonlyMap<string, readonly string[]> = new Map();

/**
 * A database session's decision, made once at startup: the same authentication (token as the
 * password, or a verified certificate), purpose catalogue, roles, attestations and review dates
 * as an HTTP request. Each statement is then judged by the statement policy of that purpose.
 * Partners are not served here: their per-customer consent scopes records, not tables.
 *
 * An application (`clients`) is held to what its entry says, as over HTTP: only the purposes its
 * `database` key lists (the first when the session declares none), and a person named unless its
 * entry lets it act alone. Identified by its certificate, it names the person by passing their
 * own token as the password (its `endUser.token`), verified as a forwarded token is.
 */
export async function decideSession(facts: SessionFacts, policy: Policy): Promise<SessionDecision> {
  const database = policy.database;
  const applications = policy.authenticator.applications;
  const certificateApplication = facts.certificate ? applications.byCertificate(facts.certificate) : undefined;
  // The password of an application that forwards its users' tokens is the person's token.
  const personToken = certificateApplication?.endUser?.token && facts.password ? certificateApplication.endUser.token : undefined;
  const named = facts.optionPurposes.length > 0 ? facts.optionPurposes : facts.applicationName ? [facts.applicationName] : [];
  let declaredPurpose = declaredPurposeOf(named);
  if (!database) return { allowed: false, code: 'CUSTODIAN_ROUTE_NOT_FOUND', declaredPurpose };
  const auth = await policy.authenticator.authenticate({
    authorization: facts.password && !personToken ? [`Bearer ${facts.password}`] : [],
    rawQuery: '',
    certificate: facts.certificate,
  });
  if (!auth.ok) return { allowed: false, code: auth.code, hint: auth.hint, declaredPurpose };
  const forwarded = personToken ? new Map([[personToken.header, [facts.password as string]]]) : NO_HEADERS;
  const attributed = await attributeEndUser(auth.principal, forwarded, policy.authenticator, policy.config.auth.maxTokenBytes);
  if (!attributed.ok) return { allowed: false, code: attributed.code, hint: attributed.hint, principal: auth.principal, declaredPurpose };
  const principal = attributed.principal;
  if (principal.kind === 'partner') {
    return { allowed: false, code: 'CUSTODIAN_CONSENT_REQUIRED', hint: 'Partners are served through the API, where each customer’s consent applies.', principal, declaredPurpose };
  }
  let declared: readonly string[] = named;
  const client = principal.application ? applications.byId(principal.application.id) : undefined;
  if (client) {
    // An unchanged client sends its own application_name ("PostgreSQL JDBC Driver"): a purpose
    // only when it is one of the application's; an explicit option must be one of them.
    const fromName = facts.optionPurposes.length === 0 && !client.database?.includes((facts.applicationName ?? '').trim());
    const served = applicationDatabasePurpose(client, fromName ? [] : named);
    if (!served.ok) return { allowed: false, code: served.code, hint: served.hint, principal, declaredPurpose };
    declared = served.declared;
    declaredPurpose = declaredPurposeOf(declared);
  }
  const authorized = authorizePurpose(declared, principal, database.purposes, policy.purposes, policy.now() / 1000);
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
 * The purposes a client declared in its startup `options`: `-c custodian.purpose=ID` (or
 * `--custodian.purpose=ID`), every occurrence (several is refused, as several X-Purpose headers
 * are). When there is none, `application_name` may name the purpose (see decideSession).
 */
export function purposesInOptions(options: string | undefined): string[] {
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
  return found;
}
