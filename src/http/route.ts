import type { FastifyInstance } from 'fastify';
import type { PolicyHolder } from '../policy/compile.js';
import { sendError } from './errors.js';

/** Stage: find the one route for this method and path; none → 404, never forwarded. */
export function registerRouteMatch(app: FastifyInstance, policy: PolicyHolder) {
  app.addHook('onRequest', async (request, reply) => {
    const target = request.custodian.target;
    if (!target) return sendError(reply, 'CUSTODIAN_PATH_INVALID');
    // The authenticate stage pinned the policy for this request; fall back only if it did not run.
    const current = request.custodian.policy ?? policy.current;
    const match = current.routes.match(request.method, target.segments);
    if (!match) return sendError(reply, 'CUSTODIAN_ROUTE_NOT_FOUND');
    const upstream = current.upstreams.get(match.route.config.upstream);
    if (!upstream) return sendError(reply, 'CUSTODIAN_INTERNAL');
    request.custodian.match = match;
    request.custodian.upstream = upstream;
    return undefined;
  });
}
