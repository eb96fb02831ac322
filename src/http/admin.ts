import type { ServerOptions } from 'node:https';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { PolicyHolder } from '../policy/compile.js';
import type { Logger } from '../logging.js';
import type { Db } from '../store/db.js';
import type { Metrics } from '../metrics/metrics.js';
import { type AdminApiDeps, registerAdminApi } from './admin-api.js';
import { registerAdminReadApi } from './admin-read-api.js';

export interface AdminDeps {
  readonly policy: PolicyHolder;
  readonly logger: Logger;
  /** Extra readiness checks later stages register (audit journal, store). */
  readonly readiness?: () => { ready: boolean; detail: Record<string, unknown> };
  /** The store, for the officer's "who accessed this customer" query. */
  readonly db?: Db;
  readonly metrics?: Metrics;
  /** Reload state for /readyz: the errors of the last failed reload, if any. */
  readonly reloadState?: () => { ok: boolean; errors: readonly string[]; at: string | undefined };
  /** The officer's admin API (authenticated); absent in unit setups. */
  readonly api?: AdminApiDeps;
  /** HTTPS server options when the admin plane is served over TLS (admin.tls). */
  readonly https?: ServerOptions;
}

/**
 * The admin plane, on its own address: liveness, readiness (and later metrics and the admin
 * API). Never serves customer data.
 */
export function buildAdmin(deps: AdminDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    logController: new LogController({ disableRequestLogging: true }),
    ...(deps.https ? { https: deps.https } : {}),
  }) as unknown as FastifyInstance;

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/metrics', async (_request, reply) => {
    if (!deps.metrics) return reply.code(404).send();
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.get('/readyz', async (_request, reply) => {
    const policy = deps.policy.current;
    const upstreamsConfigured = policy.upstreams.size > 0 && policy.routes.routes.length > 0;
    const extra = deps.readiness?.() ?? { ready: true, detail: {} };
    const ready = upstreamsConfigured && extra.ready;
    const reload = deps.reloadState?.();
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      config: {
        loaded: true,
        version: policy.version,
        routes: policy.routes.routes.length,
        upstreams: policy.upstreams.size,
        lastReload: reload ? { ok: reload.ok, at: reload.at, errors: reload.errors } : undefined,
      },
      ...extra.detail,
    });
  });
  if (deps.api) {
    registerAdminApi(app, deps.api);
    registerAdminReadApi(app, deps.api);
  }
  return app;
}
