import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';

/** The demo's certificates, all under var/, made once at first start. Demo mode only. */
export interface DemoPki {
  /** CA that signed the server and partner certificates; curl --cacert trusts it. */
  readonly caCert: string;
  readonly caCertPath: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly partnerCertPath: string;
  readonly partnerKeyPath: string;
  readonly partnerCert: string;
  /** The BI tool's client certificate (an application in `clients`, through the database front end). */
  readonly biToolCertPath: string;
  readonly biToolKeyPath: string;
}

export const DEMO_PARTNER_URI = 'spiffe://custodian-demo/partners/bureau-a';
export const DEMO_BI_TOOL_CN = 'bi-tool.demo';

const FILES = {
  caCert: 'demo-ca.pem',
  caKey: 'demo-ca-key.pem',
  serverCert: 'dev-cert.pem',
  serverKey: 'dev-key.pem',
  partnerCert: 'partner-cert.pem',
  partnerKey: 'partner-key.pem',
  biToolCert: 'bi-tool-cert.pem',
  biToolKey: 'bi-tool-key.pem',
} as const;

const YEAR = 365 * 24 * 3600 * 1000;

/** A client certificate the demo CA signs: a common name and, for a partner, its URI. */
function clientCertificate(ca: { key: string; cert: string }, commonName: string, uri?: string) {
  return generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca,
    notAfterDate: new Date(Date.now() + YEAR),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', clientAuth: true },
      ...(uri ? [{ name: 'subjectAltName' as const, altNames: [{ type: 6 as const, value: uri }] }] : []),
    ],
  });
}

/**
 * A development CA, a localhost server certificate, a partner client certificate (for the mTLS
 * part of the story) and a BI tool's (an existing application reaching the loan database). Production configurations must name their own certificate; the
 * loader refuses one that does not outside demo mode.
 */
export async function ensureDemoPki(varDir: string): Promise<DemoPki> {
  const path = (name: keyof typeof FILES) => join(varDir, FILES[name]);
  if (!Object.keys(FILES).every((name) => existsSync(path(name as keyof typeof FILES)))) {
    mkdirSync(varDir, { recursive: true });
    const ca = await generate([{ name: 'commonName', value: 'Custodian Demo CA (development only)' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + 5 * YEAR),
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      ],
    });
    const signedByCa = { key: ca.private, cert: ca.cert };
    const server = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      ca: signedByCa,
      notAfterDate: new Date(Date.now() + YEAR),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
            { type: 7, ip: '::1' },
          ],
        },
      ],
    });
    const partner = await clientCertificate(signedByCa, 'bureau-a.partner.demo', DEMO_PARTNER_URI);
    const biTool = await clientCertificate(signedByCa, DEMO_BI_TOOL_CN);
    writeFileSync(path('caKey'), ca.private, { mode: 0o600 });
    writeFileSync(path('caCert'), ca.cert);
    writeFileSync(path('serverKey'), server.private, { mode: 0o600 });
    writeFileSync(path('serverCert'), server.cert);
    writeFileSync(path('partnerKey'), partner.private, { mode: 0o600 });
    writeFileSync(path('partnerCert'), partner.cert);
    // libpq refuses a key file others can read.
    writeFileSync(path('biToolKey'), biTool.private, { mode: 0o600 });
    writeFileSync(path('biToolCert'), biTool.cert);
  }
  return {
    caCert: readFileSync(path('caCert'), 'utf8'),
    caCertPath: path('caCert'),
    serverCert: readFileSync(path('serverCert'), 'utf8'),
    serverKey: readFileSync(path('serverKey'), 'utf8'),
    partnerCertPath: path('partnerCert'),
    partnerKeyPath: path('partnerKey'),
    partnerCert: readFileSync(path('partnerCert'), 'utf8'),
    biToolCertPath: path('biToolCert'),
    biToolKeyPath: path('biToolKey'),
  };
}
