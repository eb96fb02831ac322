import type { Principal } from '../auth/principal.js';
import type { UpstreamConfig } from '../config/types.js';
import type { Policy } from '../policy/compile.js';
import type { CompiledPurpose } from '../policy/purposes.js';
import type { RequestTarget } from '../policy/request-target.js';
import type { RouteMatch } from '../policy/routes.js';

/**
 * What the pipeline has learned about a request so far. Each stage fills in its part; later
 * stages read it. Kept on the request object so stages stay independent plugins.
 */
export interface RequestState {
  /** The policy this request started under; a reload does not change it mid-request. */
  policy: Policy | undefined;
  target: RequestTarget | undefined;
  match: RouteMatch | undefined;
  upstream: UpstreamConfig | undefined;
  principal: Principal | undefined;
  purpose: CompiledPurpose | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    custodian: RequestState;
  }
}

export function emptyState(): RequestState {
  return {
    policy: undefined,
    target: undefined,
    match: undefined,
    upstream: undefined,
    principal: undefined,
    purpose: undefined,
  };
}
