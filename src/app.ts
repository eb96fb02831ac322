import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Agent } from 'undici';
import type { Config } from './config/types.js';
import { handleClientError, handleError, sendError } from './http/errors.js';
import { registerAuthenticate } from './http/authenticate.js';
import { registerAuthorize } from './http/authorize.js';
import { registerAudit } from './http/audit.js';
import { registerMetrics } from './http/metrics.js';
import type { Metrics } from './metrics/metrics.js';
import { registerGovernance } from './http/governance.js';
import type { RestrictionCache } from './governance/restrictions.js';
import type { ConsentCache } from './governance/consents.js';
import type { Db } from './store/db.js';
import type { AuditService } from './audit/service.js';
import { registerPathGuard } from './http/path-guard.js';
import { registerRequestLog } from './http/request-log.js';
import { registerProxy } from './http/proxy.js';
import { requestIdFor } from './http/request-id.js';
import { emptyState } from './http/request-state.js';
import { registerResponseHeaders } from './http/response-headers.js';
import { registerRouteMatch } from './http/route.js';
import { dataPlaneTlsOptions, type ServerCertificate } from './http/tls.js';
import type { PolicyHolder } from './policy/compile.js';
import { createLogger, type Logger } from './logging.js';

export interface AppDeps {
  readonly policy: PolicyHolder;
  readonly certificate: ServerCertificate;
  readonly dispatcher: Agent;
  readonly logger?: Logger;
  readonly audit: AuditService;
  readonly metrics?: Metrics;
  readonly restrictions?: RestrictionCache;
  readonly consents?: ConsentCache;
  /** The store, for governance checks that need it (four-eyes approvals). */
  readonly db?: Db;
}

/**
 * The data plane: a fastify instance with the pipeline stages registered in order.
 * TLS ─► path guard ─► authenticate ─► match route ─► authorize purpose ─► record decision
 * ─► proxy ─► transform (mask) ─► release once the record is durable ─► record completion; one
 * masked log line per request. It does not listen; see server.ts.
 */
export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    https: dataPlaneTlsOptions(config.tls, deps.certificate, config.limits.maxHeaderBytes),
    loggerInstance: deps.logger ?? createLogger(),
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestIdFor,
    requestIdHeader: false,
    bodyLimit: config.limits.maxBodyBytes,
    // Our own path checks bound the length; the router must not 404 long ids on its own.
    routerOptions: { maxParamLength: config.limits.maxPathLength },
    return503OnClosing: true,
    clientErrorHandler: handleClientError,
    frameworkErrors(_error, _request, reply) {
      sendError(reply, 'CUSTODIAN_PATH_INVALID');
    },
  }) as unknown as FastifyInstance;

  app.decorateRequest('custodian', null as never);
  app.addHook('onRequest', async (request) => {
    request.custodian = emptyState();
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((_request, reply) => sendError(reply, 'CUSTODIAN_ROUTE_NOT_FOUND'));

  registerResponseHeaders(app, { hsts: true });
  registerRequestLog(app);
  if (deps.metrics) registerMetrics(app, deps.metrics);
  registerPathGuard(app, config.limits);
  registerAuthenticate(app, deps.policy);
  registerRouteMatch(app, deps.policy);
  registerAuthorize(app);
  if (deps.restrictions && deps.db && deps.consents) registerGovernance(app, deps.restrictions, deps.db, deps.consents, deps.metrics);
  registerAudit(app, deps.audit, deps.metrics);
  await registerProxy(app, deps.dispatcher);
  return app;
}
