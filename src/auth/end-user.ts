import type { Authenticator } from './authenticate.js';
import { B64TOKEN } from './bearer.js';
import { type AuthFailure, authFailure, type Principal } from './principal.js';

// A user named by an application's header: an account name, not free text (it is recorded).
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;
// A forwarded token may come bare (X-Forwarded-Access-Token) or as a Bearer credential.
const FORWARDED_TOKEN = new RegExp(`^(?:Bearer )?(${B64TOKEN})$`);

export type Attribution = { readonly ok: true; readonly principal: Principal } | AuthFailure;

/**
 * Who acts through an application (`clients`): the person its forwarded user token names
 * (verified; the person's roles and attestations then apply), or the one its user header names
 * (trusted only because the application itself was verified; the roles its entry vouches for
 * apply). `endUserHeaders` holds the values of every header any application uses for this: one
 * arriving from a caller that is not the application it belongs to is refused, never ignored
 * quietly, since it means someone is trying to speak for another person.
 */
export async function attributeEndUser(
  caller: Principal,
  endUserHeaders: ReadonlyMap<string, readonly string[]>,
  authenticator: Authenticator,
  maxTokenBytes: number,
): Promise<Attribution> {
  const present = [...endUserHeaders].filter(([, values]) => values.length > 0).map(([name]) => name);
  const client = caller.application ? authenticator.applications.byId(caller.application.id) : undefined;
  if (!client) {
    return present.length === 0 ? { ok: true, principal: caller } : authFailure('CUSTODIAN_END_USER_UNTRUSTED', 'Only the application configured for an end-user header may send it.');
  }
  const endUser = client.endUser;
  const own = new Set([endUser?.token?.header, endUser?.header?.name].filter((h) => h !== undefined));
  if (present.some((name) => !own.has(name))) {
    return authFailure('CUSTODIAN_END_USER_UNTRUSTED', 'This application may not send another application\'s end-user header.');
  }
  if (!endUser) return { ok: true, principal: caller };
  // Already attributed (what-if questions and policy tests name the person): nothing to read.
  if (caller.application?.endUser !== 'none') return { ok: true, principal: caller };

  const tokenValues = endUser.token ? (endUserHeaders.get(endUser.token.header) ?? []) : [];
  const nameValues = endUser.header ? (endUserHeaders.get(endUser.header.name) ?? []) : [];
  const application = (how: 'token' | 'header') => ({ id: client.id, endUser: how });

  if (endUser.token && tokenValues.length > 0) {
    if (tokenValues.length > 1) return authFailure('CUSTODIAN_END_USER_REQUIRED', 'Forward exactly one user token.');
    const value = (tokenValues[0] as string).trim();
    const match = value.length <= maxTokenBytes + 7 ? FORWARDED_TOKEN.exec(value) : null;
    if (!match) return authFailure('CUSTODIAN_AUTH_INVALID', 'The forwarded user token is not a well-formed token.');
    const verified = await authenticator.verifyToken(match[1] as string);
    if (!verified.ok) return authFailure(verified.code, `Forwarded user token: ${verified.hint}`);
    const { claims, issuerId, certificateBinding } = verified.token;
    if (endUser.token.issuers && !endUser.token.issuers.includes(issuerId)) {
      return authFailure('CUSTODIAN_AUTH_INVALID', 'The forwarded user token is from an issuer this application may not forward.');
    }
    if (authenticator.applications.byToken(issuerId, claims.subject)) {
      return authFailure('CUSTODIAN_AUTH_INVALID', 'An application\'s token cannot stand for a person.');
    }
    // A bound token proves nothing without its own certificate, which the application cannot show.
    if (certificateBinding !== undefined) return authFailure('CUSTODIAN_AUTH_INVALID', 'A certificate-bound user token cannot be forwarded.');
    if (claims.kind !== 'staff') return authFailure('CUSTODIAN_AUTH_INVALID', 'A forwarded user token must be a member of staff\'s.');
    return { ok: true, principal: Object.freeze({ ...caller, ...claims, issuer: issuerId, application: application('token') }) };
  }

  if (endUser.header && nameValues.length > 0) {
    if (nameValues.length > 1) return authFailure('CUSTODIAN_END_USER_REQUIRED', 'Name exactly one user.');
    const name = (nameValues[0] as string).trim();
    if (!USER_NAME.test(name)) return authFailure('CUSTODIAN_END_USER_REQUIRED', 'The user header must hold an account name (letters, digits, . _ @ -).');
    const vouched = endUser.header;
    return {
      ok: true,
      principal: Object.freeze({
        ...caller,
        subject: name,
        kind: vouched.kind,
        organisation: undefined,
        roles: vouched.roles,
        attestations: vouched.attestations,
        application: application('header'),
      }),
    };
  }

  return endUser.required ? authFailure('CUSTODIAN_END_USER_REQUIRED', 'Name the person acting through this application.') : { ok: true, principal: caller };
}
