import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Agent } from 'undici';
import type { Config } from './config/types.js';
import { handleClientError, handleError, sendError } from './http/errors.js';
import { registerAudit } from './http/audit.js';
import { registerMetrics } from './http/metrics.js';
import type { Metrics } from './metrics/metrics.js';
import { registerGovernance } from './http/governance.js';
import { registerDecide } from './http/decide.js';
import type { RestrictionCache } from './governance/restrictions.js';
import type { ConsentCache } from './governance/consents.js';
import type { Db } from './store/db.js';
import type { AuditService } from './audit/service.js';
import { registerRequestLog } from './http/request-log.js';
import { registerProxy } from './http/proxy.js';
import { requestIdFor } from './http/request-id.js';
import { emptyState } from './http/request-state.js';
import { registerResponseHeaders } from './http/response-headers.js';
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
  readonly restrictions: RestrictionCache;
  readonly consents: ConsentCache;
  /** The store governance reads and writes (bulk guard, four-eyes approvals). */
  readonly db: Db;
}

/**
 * The data plane: a fastify instance with the pipeline stages registered in order.
 * TLS ─► decide (path, authenticate, route, purpose, governance: src/pipeline/decide.ts) ─►
 * record the decision ─► [four-eyes: consume the approval] ─► proxy ─► transform (mask) ─►
 * release once the record is durable ─► record completion; one masked log line per request.
 * A refusal ends the request where it is decided. It does not listen; see server.ts.
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
  // Hooks that await nothing are callback style here and below: an async hook costs each request
  // a promise and a trip through the microtask queue.
  app.addHook('onRequest', (request, _reply, done) => {
    request.custodian = emptyState();
    done();
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((_request, reply) => sendError(reply, 'CUSTODIAN_ROUTE_NOT_FOUND'));

  registerResponseHeaders(app, { hsts: true });
  registerRequestLog(app);
  if (deps.metrics) registerMetrics(app, deps.metrics);
  const stores = { restrictions: deps.restrictions, consents: deps.consents, db: deps.db, metrics: deps.metrics };
  registerDecide(app, { policy: deps.policy, stores, audit: deps.audit, metrics: deps.metrics });
  registerGovernance(app, { db: deps.db, audit: deps.audit, metrics: deps.metrics });
  registerAudit(app, deps.audit);
  await registerProxy(app, deps.dispatcher, deps.db);
  return app;
}
