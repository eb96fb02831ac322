import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { Config } from './config/types.js';
import { ensureDemoPki } from './demo/pki.js';
import { buildAdmin } from './http/admin.js';
import { createPlaintextRefusal } from './http/plaintext.js';
import type { ServerCertificate } from './http/tls.js';
import { createLogger, type Logger } from './logging.js';
import { compilePolicy, PolicyHolder } from './policy/compile.js';
import { createUpstreamDispatcher } from './upstream/dispatcher.js';

export interface GatewayOptions {
  readonly logger?: Logger;
  /** Where demo mode keeps generated material (default ./var). */
  readonly varDir?: string;
  /** Clock for token and purpose checks (tests freeze it). */
  readonly now?: () => number;
}

export interface RunningGateway {
  readonly dataUrl: string;
  readonly adminUrl: string;
  readonly plaintextUrl: string | undefined;
  readonly policy: PolicyHolder;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

function urlOf(scheme: string, server: { address(): AddressInfo | string | null }): string {
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${a.port}`;
}

/**
 * The data plane's certificate and client CA. Only in demo mode may either be missing from the
 * configuration (loadConfig enforces it); the demo PKI under var/ fills the gap.
 */
async function certificateFor(config: Config, varDir: string): Promise<ServerCertificate> {
  const { cert, key, clientCa, clientCertificate } = config.tls;
  const needsClientCa = clientCertificate !== 'none' && clientCa === undefined;
  if (cert && key && !needsClientCa) return { cert, key, clientCa };
  if (config.mode !== 'demo') throw new Error('no TLS certificate or client CA configured');
  const pki = await ensureDemoPki(varDir);
  return {
    cert: cert ?? pki.serverCert,
    key: key ?? pki.serverKey,
    clientCa: clientCa ?? (needsClientCa ? pki.caCert : undefined),
  };
}

/** Build every listener from a loaded configuration and start listening. */
export async function startGateway(config: Config, options: GatewayOptions = {}): Promise<RunningGateway> {
  const logger = options.logger ?? createLogger();
  const varDir = options.varDir ?? resolve('var');
  const policy = new PolicyHolder(compilePolicy(config, { now: options.now }));
  const dispatcher = createUpstreamDispatcher(config.upstreams);
  const certificate = await certificateFor(config, varDir);

  const app = await buildApp(config, { policy, certificate, dispatcher, logger });
  const admin = buildAdmin({ policy, logger });
  let plaintext: Server | undefined;

  try {
    await app.listen({ host: config.listen.data.host, port: config.listen.data.port });
    await admin.listen({ host: config.listen.admin.host, port: config.listen.admin.port });
    if (config.listen.plaintext) {
      const server = createPlaintextRefusal(config.limits.maxHeaderBytes);
      plaintext = server;
      const { host, port } = config.listen.plaintext;
      await new Promise<void>((ok, fail) => {
        server.once('error', fail);
        server.listen(port, host, () => ok());
      });
    }
  } catch (err) {
    await Promise.allSettled([app.close(), admin.close(), dispatcher.close()]);
    plaintext?.close();
    throw err;
  }

  return {
    dataUrl: urlOf('https', app.server),
    adminUrl: urlOf('http', admin.server),
    plaintextUrl: plaintext ? urlOf('http', plaintext) : undefined,
    policy,
    app,
    async close() {
      plaintext?.closeAllConnections();
      await Promise.allSettled([
        app.close(),
        admin.close(),
        plaintext ? new Promise((ok) => plaintext?.close(ok)) : undefined,
      ]);
      await dispatcher.close();
    },
  };
}
