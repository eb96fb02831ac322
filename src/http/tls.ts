import type { SecureServerOptions } from 'node:http2';
import type { ServerOptions } from 'node:https';
import type { TlsConfig } from '../config/types.js';

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
