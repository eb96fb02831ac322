import type { BuildContext } from './build-auth.js';
import { isLoopbackHost } from './loopback.js';
import type { SecretRef } from './secrets.js';
import type { AdminTlsConfig, TlsConfig } from './types.js';

type ClientCertificateMode = 'none' | 'request' | 'require';

export interface RawTls {
  cert?: SecretRef;
  key?: SecretRef;
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  clientCa?: SecretRef;
  clientCertificate?: ClientCertificateMode;
}

export type RawAdminTls = Omit<RawTls, 'minVersion'>;

/** The data plane's TLS: a certificate outside demo mode, a client CA whenever certificates are asked for. */
export function buildTls(raw: RawTls | undefined, mode: 'production' | 'demo', ctx: BuildContext): TlsConfig {
  const tlsRaw = raw ?? {};
  const clientCertificate = tlsRaw.clientCertificate ?? 'none';
  if ((tlsRaw.cert === undefined) !== (tlsRaw.key === undefined)) {
    ctx.issues.push({ path: ['tls'], message: 'tls.cert and tls.key must be given together' });
  }
  if (tlsRaw.cert === undefined && mode !== 'demo') {
    ctx.issues.push({ path: ['tls'], message: 'tls.cert and tls.key are required outside demo mode' });
  }
  // Demo mode generates a demo client CA (like its server certificate) when none is named.
  if (clientCertificate !== 'none' && tlsRaw.clientCa === undefined && mode !== 'demo') {
    ctx.issues.push({ path: ['tls', 'clientCertificate'], message: 'client certificates need tls.clientCa' });
  }
  return {
    cert: ctx.secret(tlsRaw.cert, ['tls', 'cert']),
    key: ctx.secret(tlsRaw.key, ['tls', 'key']),
    minVersion: tlsRaw.minVersion ?? 'TLSv1.2',
    clientCa: ctx.secret(tlsRaw.clientCa, ['tls', 'clientCa']),
    clientCertificate,
  };
}

/**
 * The admin plane's TLS, if any. The admin plane carries officer tokens, access histories and
 * metrics: beyond loopback it is served only over TLS.
 */
export function buildAdminTls(raw: RawAdminTls | undefined, adminHost: string, ctx: BuildContext): AdminTlsConfig | undefined {
  if (!raw) {
    if (!isLoopbackHost(adminHost)) {
      ctx.issues.push({
        path: ['listen', 'admin', 'host'],
        message: 'the admin plane listens beyond loopback only over TLS: add admin.tls (it can reuse the data plane certificate) or bind it to 127.0.0.1',
      });
    }
    return undefined;
  }
  const clientCertificate = raw.clientCertificate ?? 'none';
  if ((raw.cert === undefined) !== (raw.key === undefined)) {
    ctx.issues.push({ path: ['admin', 'tls'], message: 'admin.tls.cert and admin.tls.key must be given together' });
  }
  if (clientCertificate !== 'none' && raw.clientCa === undefined) {
    ctx.issues.push({ path: ['admin', 'tls', 'clientCertificate'], message: 'client certificates need admin.tls.clientCa' });
  }
  return {
    cert: ctx.secret(raw.cert, ['admin', 'tls', 'cert']),
    key: ctx.secret(raw.key, ['admin', 'tls', 'key']),
    clientCa: ctx.secret(raw.clientCa, ['admin', 'tls', 'clientCa']),
    clientCertificate,
  };
}
