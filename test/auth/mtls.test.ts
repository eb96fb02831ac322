import { createHash, X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import t from 'tap';
import { recordConsent } from '../../src/governance/consents.js';
import { clientCertificate } from '../helpers/certs.js';
import { basicRoutes, gatewayWithOrigin, testKey } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { mint, testPurposes } from '../helpers/tokens.js';

const thumbprint = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');

const scoring = await clientCertificate('scoring-engine');
const bureau = await clientCertificate('bureau-a.example', 'spiffe://partners/bureau-a');
const otherPartner = await clientCertificate('bureau-b.example', 'spiffe://partners/bureau-b');
// A certificate for the right name from a CA the gateway does not trust.
const rogue = await (async () => {
  const pems = await generate([{ name: 'commonName', value: 'scoring-engine' }], { keyType: 'ec', algorithm: 'sha256' });
  return { cert: pems.cert, key: pems.private };
})();

const routes = basicRoutes('origin', ['credit_assessment', 'partner_credit_check', 'risk_scoring']).map((r) => (r.path.includes(':customerId') ? { ...r, subjects: [{ param: 'customerId' }] } : r));
// Partners also need a registry entry and the customer's consent (governance); customer 1 has one.
const partners = [
  { id: 'bureau-a', contract: 'HT-1', nda: 'NDA-1', securityReview: { ref: 'SR-1', date: '2026-01-01' }, purposes: ['partner_credit_check'], fields: ['ok'], validFrom: '2026-01-01', validUntil: '2099-12-31' },
  { id: 'bureau-b', contract: 'HT-2', nda: 'NDA-2', securityReview: { ref: 'SR-2', date: '2026-01-01' }, purposes: ['partner_credit_check'], fields: ['ok'], validFrom: '2026-01-01', validUntil: '2099-12-31' },
];
const purposes = [
  ...testPurposes(),
  { id: 'risk_scoring', description: '风险管理', lawfulBasis: 'contract', roles: ['scoring'], callerKinds: ['service'], approvedBy: 'officer.li', reviewUntil: '2099-12-31' },
];
const auth = {
  requireCertificateFor: ['partner'],
  requireBoundTokenFor: ['partner'],
  issuers: [{ id: 'test-idp', issuer: 'https://idp.test.custodian', audience: 'custodian', algorithms: ['ES256'], keys: [{ kid: testKey.kid, key: { file: 'issuer-key.pem' } }] }],
  clientCertificates: [
    { match: { cn: 'scoring-engine' }, principal: { subject: 'svc-scoring', kind: 'service', roles: ['scoring'] } },
    { match: { uri: 'spiffe://partners/bureau-a' }, principal: { subject: 'bureau-a', kind: 'partner', organisation: 'bureau-a', roles: ['bureau'] } },
    { match: { uri: 'spiffe://partners/bureau-b' }, principal: { subject: 'bureau-b', kind: 'partner', organisation: 'bureau-b', roles: ['bureau'] } },
  ],
};

const partnerClaims = { sub: 'bureau-a', kind: 'partner', org: 'bureau-a', roles: ['bureau'] };
const boundToBureau = `Authorization: Bearer ${await mint(testKey, { ...partnerClaims, cnf: { 'x5t#S256': thumbprint(bureau.cert) } })}`;
const unbound = `Authorization: Bearer ${await mint(testKey, partnerClaims)}`;
const boundToOther = `Authorization: Bearer ${await mint(testKey, { ...partnerClaims, cnf: { 'x5t#S256': thumbprint(otherPartner.cert) } })}`;
const partnerPurpose = 'X-Purpose: partner_credit_check';

t.test('mTLS in request mode: certificates identify services and bind partner tokens', async (t) => {
  const { origin, gw } = await gatewayWithOrigin(t, {
    routes,
    purposes,
    auth,
    tls: { cert: { file: 'server.pem' }, key: { file: 'server-key.pem' }, clientCa: { file: 'client-ca.pem' }, clientCertificate: 'request' },
    partners,
  });
  await recordConsent(gw.db, { customerId: '1', recipient: 'bureau-a', purpose: 'partner_credit_check', fields: ['ok'], expiresAt: '2099-01-01T00:00:00Z', evidence: 'test', recordedBy: 'test' });
  await gw.governance.consents.refresh();
  const call = async (headers: string[], cert?: { cert: string; key: string }) => {
    const res = await rawHttps(gw.port, get('/api/customers/1', headers), { ca: gw.ca, ...cert });
    return res.status === 200 ? 'ok' : JSON.parse(res.body).error.code;
  };

  const refusals: [string, string[], { cert: string; key: string } | undefined, string][] = [
    ['partner token without a certificate', [boundToBureau, partnerPurpose], undefined, 'CUSTODIAN_CLIENT_CERT_REQUIRED'],
    ['unbound partner token with the certificate', [unbound, partnerPurpose], bureau, 'CUSTODIAN_AUTH_INVALID'],
    ['partner token bound to another certificate', [boundToOther, partnerPurpose], bureau, 'CUSTODIAN_AUTH_INVALID'],
    ["bureau A's token with bureau B's certificate", [boundToBureau, partnerPurpose], otherPartner, 'CUSTODIAN_AUTH_INVALID'],
    ['partner certificate without a token', [partnerPurpose], bureau, 'CUSTODIAN_AUTH_MISSING'],
    ['certificate from an untrusted CA is no identity', ['X-Purpose: risk_scoring'], rogue, 'CUSTODIAN_AUTH_MISSING'],
    ['partner token with an untrusted certificate', [boundToBureau, partnerPurpose], rogue, 'CUSTODIAN_CLIENT_CERT_REQUIRED'],
    ['service certificate with a purpose its role lacks', ['X-Purpose: credit_assessment'], scoring, 'CUSTODIAN_PURPOSE_NOT_ALLOWED'],
  ];
  for (const [name, headers, cert, code] of refusals) t.equal(await call(headers, cert), code, name);
  t.equal(origin.seen.length, 0, 'nothing forwarded');

  t.equal(await call(['X-Purpose: risk_scoring'], scoring), 'ok', 'a mapped service certificate alone is an identity');
  t.equal(origin.seen.at(-1)?.headers['x-custodian-subject'], 'svc-scoring');
  t.equal(await call([boundToBureau, partnerPurpose], bureau), 'ok', 'partner with certificate and bound token');
  t.equal(origin.seen.at(-1)?.headers['x-custodian-organisation'], 'bureau-a');
  t.equal(await call([`Authorization: Bearer ${await mint(testKey)}`, 'X-Purpose: credit_assessment']), 'ok', 'staff need no certificate');
});

t.test('mTLS in require mode: no handshake without a trusted certificate', async (t) => {
  const { origin, gw } = await gatewayWithOrigin(t, {
    routes,
    purposes,
    auth,
    tls: { cert: { file: 'server.pem' }, key: { file: 'server-key.pem' }, clientCa: { file: 'client-ca.pem' }, clientCertificate: 'require' },
  });
  for (const [name, cert] of [['no certificate', undefined], ['untrusted certificate', rogue]] as const) {
    const outcome = await rawHttps(gw.port, get('/api/customers/1', ['X-Purpose: risk_scoring']), { ca: gw.ca, ...cert }).then(
      (r) => `status ${r.status}`,
      () => 'handshake refused',
    );
    t.equal(outcome, 'handshake refused', name);
  }
  const ok = await rawHttps(gw.port, get('/api/customers/1', ['X-Purpose: risk_scoring']), { ca: gw.ca, ...scoring });
  t.equal(ok.status, 200);
  t.equal(origin.seen.length, 1);
});
