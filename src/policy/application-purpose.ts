import type { ClientConfig } from '../config/types.js';
import type { PurposeRefusal } from './purposes.js';

export type ApplicationPurpose = { readonly ok: true; readonly declared: readonly string[] } | { readonly ok: false; readonly code: PurposeRefusal; readonly hint: string };

/**
 * The purpose a request through an application declares: its own header when it sends one (which
 * must be one the application serves on this route), else the application's purpose for the
 * route. The result then goes through the same purpose check as any caller's declaration.
 */
export function applicationPurpose(client: ClientConfig, routeId: string, declared: readonly string[]): ApplicationPurpose {
  const served = client.routes.get(routeId);
  if (!served) return { ok: false, code: 'CUSTODIAN_PURPOSE_NOT_ALLOWED', hint: `Application "${client.id}" does not serve this route.` };
  if (declared.length === 0) return { ok: true, declared: [served[0] as string] };
  if (declared.length === 1 && !served.includes((declared[0] as string).trim())) {
    return { ok: false, code: 'CUSTODIAN_PURPOSE_NOT_ALLOWED', hint: `The purpose is not one application "${client.id}" serves on this route.` };
  }
  return { ok: true, declared };
}
