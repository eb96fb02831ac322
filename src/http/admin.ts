import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { PolicyHolder } from '../policy/compile.js';
import type { Logger } from '../logging.js';

export interface AdminDeps {
  readonly policy: PolicyHolder;
  readonly logger: Logger;
  /** Extra readiness checks later stages register (audit journal, store). */
  readonly readiness?: () => { ready: boolean; detail: Record<string, unknown> };
}

/**
 * The admin plane, on its own address: liveness, readiness (and later metrics and the admin
 * API). Never serves customer data.
 */
export function buildAdmin(deps: AdminDeps): FastifyInstance {
  const app = Fastify({ loggerInstance: deps.logger, logController: new LogController({ disableRequestLogging: true }) }) as unknown as FastifyInstance;

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const policy = deps.policy.current;
    const upstreamsConfigured = policy.upstreams.size > 0 && policy.routes.routes.length > 0;
    const extra = deps.readiness?.() ?? { ready: true, detail: {} };
    const ready = upstreamsConfigured && extra.ready;
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      config: { loaded: true, routes: policy.routes.routes.length, upstreams: policy.upstreams.size },
      ...extra.detail,
    });
  });
  return app;
}
