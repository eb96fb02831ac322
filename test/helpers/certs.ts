import { generate } from 'selfsigned';

export interface TestPki {
  readonly caCert: string;
  readonly caKey: string;
  /** Server certificate for localhost / 127.0.0.1, signed by the CA. */
  readonly serverCert: string;
  readonly serverKey: string;
}

let cached: Promise<TestPki> | undefined;

/** A throwaway CA and a localhost server certificate it signed (EC keys: fast to make). */
export function testPki(): Promise<TestPki> {
  cached ??= (async () => {
    const ca = await generate([{ name: 'commonName', value: 'Custodian Test CA' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      ],
    });
    const server = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      ca: { key: ca.private, cert: ca.cert },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
      ],
    });
    return { caCert: ca.cert, caKey: ca.private, serverCert: server.cert, serverKey: server.private };
  })();
  return cached;
}

/** A client certificate signed by the test CA, with an optional SAN URI. */
export async function clientCertificate(cn: string, uri?: string): Promise<{ cert: string; key: string }> {
  const pki = await testPki();
  const pems = await generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { key: pki.caKey, cert: pki.caCert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', clientAuth: true },
      ...(uri ? [{ name: 'subjectAltName' as const, altNames: [{ type: 6 as const, value: uri }] }] : []),
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
