import type { FastifyInstance } from 'fastify';
import { parseRequestTarget } from '../policy/request-target.js';
import { sendError } from './errors.js';

/**
 * Stage 1: refuse ambiguous request targets before anything else looks at them, and refuse
 * declared bodies over the limit before reading them.
 */
export function registerPathGuard(app: FastifyInstance, limits: { maxPathLength: number; maxBodyBytes: number }) {
  app.addHook('onRequest', async (request, reply) => {
    const result = parseRequestTarget(request.raw.url ?? '', limits.maxPathLength);
    if (!result.ok) {
      request.log.info({ reason: result.reason }, 'path refused');
      return sendError(reply, 'CUSTODIAN_PATH_INVALID');
    }
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > limits.maxBodyBytes) return sendError(reply, 'CUSTODIAN_BODY_TOO_LARGE');
    request.custodian.target = result.target;
    return undefined;
  });
}
