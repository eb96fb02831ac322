import type { SecureServerOptions } from 'node:http2';
import type { ServerOptions } from 'node:https';
import type { AdminTlsConfig, TlsConfig } from '../config/types.js';

export interface ServerCertificate {
  readonly cert: string;
  readonly key: string;
  /** CA bundle client certificates must chain to. */
  readonly clientCa: string | undefined;
}

/** Node https server options for the data plane: TLS >= 1.2 and client-certificate mode. */
export function dataPlaneTlsOptions(
  tls: TlsConfig,
  certificate: ServerCertificate,
  maxHeaderBytes: number,
): ServerOptions & Pick<SecureServerOptions, 'allowHTTP1'> {
  const wantCert = tls.clientCertificate !== 'none';
  return {
    cert: certificate.cert,
    key: certificate.key,
    minVersion: tls.minVersion,
    maxHeaderSize: maxHeaderBytes,
    ...(certificate.clientCa ? { ca: certificate.clientCa } : {}),
    requestCert: wantCert,
    // In `request` mode the handshake succeeds without a certificate; an unverified one is
    // then treated as absent (socket.authorized is false), never as an identity.
    rejectUnauthorized: tls.clientCertificate === 'require',
  };
}

/**
 * Node https server options for the admin plane: the data plane's TLS floor, its own certificate
 * (or the data plane's) and its own client-certificate mode and CA.
 */
export function adminPlaneTlsOptions(admin: AdminTlsConfig, dataPlane: TlsConfig, dataPlaneCertificate: ServerCertificate): ServerOptions {
  return dataPlaneTlsOptions(
    { ...dataPlane, clientCertificate: admin.clientCertificate },
    { cert: admin.cert ?? dataPlaneCertificate.cert, key: admin.key ?? dataPlaneCertificate.key, clientCa: admin.clientCa },
    16 * 1024,
  );
}
