import type { FastifyInstance } from 'fastify';
import { authorizePurpose } from '../policy/purposes.js';
import { sendError } from './errors.js';
import { rawHeaderValues } from './raw-headers.js';

/** Stage: the declared purpose must be in the catalogue, live, allowed for this caller and route. */
export function registerAuthorize(app: FastifyInstance) {
  app.addHook('onRequest', async (request, reply) => {
    const { policy, principal, match } = request.custodian;
    if (!policy || !principal || !match) return sendError(reply, 'CUSTODIAN_INTERNAL');
    const decision = authorizePurpose(
      rawHeaderValues(request.raw, policy.config.auth.purposeHeader),
      principal,
      policy.routePurposes.get(match.route.config.id) ?? new Set(),
      policy.purposes,
      policy.now() / 1000,
    );
    if (!decision.ok) {
      request.log.info({ code: decision.code, route: match.route.config.id }, 'purpose refused');
      return sendError(reply, decision.code, decision.hint);
    }
    request.custodian.purpose = decision.purpose;
    return undefined;
  });
}
