import type { FastifyInstance } from 'fastify';
import { maskedTarget } from './request-state.js';

/**
 * One structured line per request: who, which route and purpose, the outcome — with the path
 * and query masked (the upstream got them in clear; our log does not). Headers are never logged.
 */
export function registerRequestLog(app: FastifyInstance) {
  app.addHook('onResponse', (request, reply, done) => {
    // Nothing to build when the line would not be written (pino's loggers can tell).
    if ((request.log as { isLevelEnabled?(level: string): boolean }).isLevelEnabled?.('info') === false) return done();
    const { fieldReport, transformFailed } = request.custodian;
    const { match, principal, purpose } = request.custodian.decision ?? {};
    const { path, query } = maskedTarget(request.custodian);
    const fields = fieldReport?.byAction;
    request.log.info(
      {
        method: request.method,
        path,
        query: query || undefined,
        route: match?.route.config.id,
        purpose: purpose?.config.id,
        caller: principal ? { sub: principal.subject, kind: principal.kind, org: principal.organisation } : undefined,
        status: reply.statusCode,
        fields: fields ? { masked: fields.masked.size, dropped: fields.dropped.size } : undefined,
        transformFailed: transformFailed || undefined,
        ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      'request',
    );
    done();
  });
}
