import { createServer, type Server } from 'node:net';
import type { AuditService } from '../audit/service.js';
import type { TlsConfig } from '../config/types.js';
import type { RestrictionCache } from '../governance/restrictions.js';
import type { ServerCertificate } from '../http/tls.js';
import { TlsAcceptor } from './tls-acceptor.js';
import type { Logger } from '../logging.js';
import type { PolicyHolder } from '../policy/compile.js';
import type { Db } from '../store/db.js';
import type { Metrics } from '../metrics/metrics.js';
import { loadStatementParser } from '../policy/statement.js';
import { ColumnCatalogue } from './catalogue.js';
import { Session } from './session.js';

export interface DatabaseListener {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The PostgreSQL front end's listener (database.listen): one Session per connection, sharing the
 * data plane's certificate and client CA. A socket error or a client gone at any byte ends that
 * session only.
 */
export async function startDatabaseListener(deps: {
  readonly policy: PolicyHolder;
  readonly audit: AuditService;
  readonly restrictions: RestrictionCache;
  readonly db: Db;
  readonly tls: TlsConfig;
  readonly certificate: ServerCertificate;
  readonly logger: Logger;
  readonly metrics: Metrics;
}): Promise<DatabaseListener> {
  const database = deps.policy.current.config.database;
  if (!database) throw new Error('database front end not configured');
  await loadStatementParser();
  const tls = new TlsAcceptor({
    cert: deps.certificate.cert,
    key: deps.certificate.key,
    minVersion: deps.tls.minVersion,
    ...(deps.certificate.clientCa ? { ca: deps.certificate.clientCa } : {}),
    // As on the HTTP listener: asked for unless `none`, required only with `require`; one that
    // does not verify is treated as absent, never as an identity.
    requestCert: deps.tls.clientCertificate !== 'none',
    rejectUnauthorized: deps.tls.clientCertificate === 'require',
  });
  const sessions = new Map<string, Session>();
  const open = new Set<Session>();
  const catalogue = new ColumnCatalogue(database, deps.logger);
  catalogue.start();
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    const session = new Session(socket, {
      policy: deps.policy,
      audit: deps.audit,
      restrictions: deps.restrictions,
      db: deps.db,
      tls,
      logger: deps.logger,
      sessions,
      maxSessions: database.upstream.maxSessions,
      catalogue,
      metrics: deps.metrics,
    });
    open.add(session);
    deps.metrics.databaseSessions.set(open.size);
    socket.once('close', () => {
      open.delete(session);
      deps.metrics.databaseSessions.set(open.size);
    });
  });
  server.on('error', (err) => deps.logger.error({ err }, 'database listener error'));
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(database.listen.port, database.listen.host, () => ok());
  });
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address ? address.port : database.listen.port,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of open) s.close();
        server.close(() => ok());
      }).then(() => catalogue.close()),
  };
}
