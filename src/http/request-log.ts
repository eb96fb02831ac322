import type { FastifyInstance } from 'fastify';
import { maskPath, maskQuery } from '../mask/request-side.js';

/**
 * One structured line per request: who, which route and purpose, the outcome — with the path
 * and query masked (the upstream got them in clear; our log does not). Headers are never logged.
 */
export function registerRequestLog(app: FastifyInstance) {
  app.addHook('onResponse', async (request, reply) => {
    const { policy, target, match, principal, purpose, fieldReport, transformFailed } = request.custodian;
    const classification = policy?.config.classification;
    const path = target && classification ? maskPath(target.segments, match?.params ?? {}, classification) : undefined;
    const query = target && classification ? maskQuery(target.rawQuery, classification) : undefined;
    request.log.info(
      {
        method: request.method,
        path,
        query: query || undefined,
        route: match?.route.config.id,
        purpose: purpose?.config.id,
        caller: principal ? { sub: principal.subject, kind: principal.kind, org: principal.organisation } : undefined,
        status: reply.statusCode,
        fields: fieldReport ? { masked: fieldReport.byAction.masked.size, dropped: fieldReport.byAction.dropped.size } : undefined,
        transformFailed: transformFailed || undefined,
        ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      'request',
    );
  });
}
