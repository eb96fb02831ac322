import type { ClientConfig } from '../config/types.js';
import type { PurposeRefusal } from './purposes.js';

export type ApplicationPurpose = { readonly ok: true; readonly declared: readonly string[] } | { readonly ok: false; readonly code: PurposeRefusal; readonly hint: string };

/**
 * The purpose a request (or a database session) through an application declares: its own
 * declaration when it sends one (which must be one the application serves there), else the
 * application's first purpose there. The result then goes through the same purpose check as any
 * caller's declaration. `served` is undefined where the application does not go at all.
 */
function servedPurpose(client: ClientConfig, served: readonly string[] | undefined, where: string, declared: readonly string[]): ApplicationPurpose {
  if (!served) return { ok: false, code: 'CUSTODIAN_PURPOSE_NOT_ALLOWED', hint: `Application "${client.id}" does not serve ${where}.` };
  if (declared.length === 0) return { ok: true, declared: [served[0] as string] };
  if (declared.length === 1 && !served.includes((declared[0] as string).trim())) {
    return { ok: false, code: 'CUSTODIAN_PURPOSE_NOT_ALLOWED', hint: `The purpose is not one application "${client.id}" serves on ${where}.` };
  }
  return { ok: true, declared };
}

/** Through an HTTP route: the purposes the application's `routes` give it there. */
export function applicationPurpose(client: ClientConfig, routeId: string, declared: readonly string[]): ApplicationPurpose {
  return servedPurpose(client, client.routes.get(routeId), 'this route', declared);
}

/** Through the PostgreSQL front end: the purposes the application's `database` key gives it. */
export function applicationDatabasePurpose(client: ClientConfig, declared: readonly string[]): ApplicationPurpose {
  return servedPurpose(client, client.database, 'the database front end', declared);
}
