import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { listSegments } from '../../src/audit/segments.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { clientCertificate } from '../helpers/certs.js';
import { basicRoutes, gatewayWithOrigin, testKey } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { mint, signingKey, testPurposes } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

// Existing applications behind the gateway: a customer-service portal that proves itself with a
// client-credentials token and names its agents (their forwarded token, or its own user header),
// and a scoring job that proves itself with its certificate and acts on its own.
const scoringCert = await clientCertificate('scoring-job');
const otherKey = signingKey('not-trusted');
const now = Math.floor(Date.now() / 1000);
const thumbprint = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');

const purposes = [
  ...testPurposes(),
  { id: 'risk_scoring', description: '风险管理', lawfulBasis: 'contract', roles: ['scoring'], callerKinds: ['service'], approvedBy: 'officer.li', reviewUntil: '2099-12-31' },
];
const routes = basicRoutes('origin', ['credit_assessment', 'customer_service', 'risk_scoring']);
const clients = [
  {
    id: 'cs-portal',
    name: 'Customer-service portal',
    identity: { token: { issuer: 'test-idp', subject: 'cs-portal' } },
    routes: { 'customers.detail': 'customer_service', 'customers.loans': ['customer_service', 'credit_assessment'] },
    endUser: {
      token: { header: 'X-Forwarded-Access-Token' },
      header: { name: 'X-Portal-User', roles: ['cs_agent'], attestations: { training: '2099-12-31' } },
    },
  },
  {
    id: 'scoring-job',
    identity: { certificate: { cn: 'scoring-job' } },
    routes: { 'customers.detail': 'risk_scoring' },
    roles: ['scoring'],
  },
];

const portal = `Authorization: Bearer ${await mint(testKey, { sub: 'cs-portal', kind: 'service', roles: [], attestations: {} })}`;
const agentToken = await mint(testKey, { sub: 'agent-7', roles: ['cs_agent'] });
const forwarded = (token: string) => `X-Forwarded-Access-Token: ${token}`;
const officerToken = await mint(testKey, { sub: 'officer-3', roles: ['credit_officer'] });
const staff = `Authorization: Bearer ${officerToken}`;

t.test('applications call unchanged: purpose from the application, person from what it forwards', async (t) => {
  const { origin, gw } = await gatewayWithOrigin(t, {
    routes,
    purposes,
    clients,
    tls: { cert: { file: 'server.pem' }, key: { file: 'server-key.pem' }, clientCa: { file: 'client-ca.pem' }, clientCertificate: 'request' },
  });
  const call = async (path: string, headers: string[], cert?: { cert: string; key: string }) => {
    const res = await rawHttps(gw.port, get(path, headers), { ca: gw.ca, ...cert });
    return { status: res.status, code: res.status === 200 ? 'ok' : (JSON.parse(res.body).error.code as string), body: res.body };
  };

  // 1. The portal with no header changes: its token and the agent's forwarded token.
  const viaToken = await call('/api/customers/1', [portal, forwarded(agentToken)]);
  t.equal(viaToken.code, 'ok', 'no X-Purpose: the portal\'s purpose for the route');
  const seen = origin.seen.at(-1);
  t.equal(seen?.headers['x-custodian-purpose'], 'customer_service');
  t.equal(seen?.headers['x-custodian-subject'], 'agent-7', 'the upstream is told the person');
  t.equal(seen?.headers['x-custodian-application'], 'cs-portal', 'and the application');
  t.equal(seen?.headers['x-forwarded-access-token'], undefined, 'the forwarded user token is a credential: not passed on');
  t.equal(seen?.headers.authorization, undefined);

  // 2. The same portal naming its agent in its user header instead.
  t.equal((await call('/api/customers/1', [portal, 'X-Portal-User: agent-9'])).code, 'ok', 'user header from the portal');
  t.equal(origin.seen.at(-1)?.headers['x-portal-user'], 'agent-9', 'the user header reaches the upstream as the portal sent it');

  // 3. An explicit purpose from the application's list, with the person's own roles.
  t.equal((await call('/api/customers/1/loans', [portal, forwarded(officerToken), 'X-Purpose: credit_assessment'])).code, 'ok', 'listed purpose, officer forwarded');
  t.equal(origin.seen.at(-1)?.headers['x-custodian-purpose'], 'credit_assessment');

  // 4. A job acting on its own with its certificate.
  t.equal((await call('/api/customers/1', [], scoringCert)).code, 'ok', 'scoring job by certificate');
  t.equal(origin.seen.at(-1)?.headers['x-custodian-subject'], 'scoring-job');
  const allowed = origin.seen.length;

  const lapsed = await mint(testKey, { sub: 'agent-8', roles: ['cs_agent'], attestations: { training: now - 86400 } });
  const expired = await mint(testKey, { sub: 'agent-7', roles: ['cs_agent'] }, { nowSec: now - 7200, lifetimeSec: 600 });
  const forged = await mint(otherKey, { sub: 'agent-7', roles: ['cs_agent'] });
  const partnerUser = await mint(testKey, { sub: 'bureau-a', kind: 'partner', org: 'bureau-a', roles: ['cs_agent'] });
  const bound = await mint(testKey, { sub: 'agent-7', roles: ['cs_agent'], cnf: { 'x5t#S256': thumbprint(scoringCert.cert) } });
  const portalAsUser = await mint(testKey, { sub: 'cs-portal', kind: 'service', roles: ['cs_agent'] });
  const refusals: [string, string, string[], { cert: string; key: string } | undefined, string][] = [
    ['portal naming no one', '/api/customers/1', [portal], undefined, 'CUSTODIAN_END_USER_REQUIRED'],
    ['a purpose outside the portal\'s list for the route', '/api/customers/1', [portal, forwarded(officerToken), 'X-Purpose: credit_assessment'], undefined, 'CUSTODIAN_PURPOSE_NOT_ALLOWED'],
    ['a route the portal does not serve', '/api/customers?x=1', [portal, forwarded(agentToken)], undefined, 'CUSTODIAN_ROUTE_NOT_FOUND'],
    ['the listed purpose, but the agent lacks its role', '/api/customers/1/loans', [portal, forwarded(agentToken), 'X-Purpose: credit_assessment'], undefined, 'CUSTODIAN_PURPOSE_NOT_ALLOWED'],
    ['forwarded token with lapsed training', '/api/customers/1', [portal, forwarded(lapsed)], undefined, 'CUSTODIAN_ATTESTATION_LAPSED'],
    ['forwarded token expired', '/api/customers/1', [portal, forwarded(expired)], undefined, 'CUSTODIAN_AUTH_EXPIRED'],
    ['forwarded token signed by an untrusted key', '/api/customers/1', [portal, forwarded(forged)], undefined, 'CUSTODIAN_AUTH_INVALID'],
    ['forwarded token of a partner', '/api/customers/1', [portal, forwarded(partnerUser)], undefined, 'CUSTODIAN_AUTH_INVALID'],
    ['forwarded certificate-bound token', '/api/customers/1', [portal, forwarded(bound)], undefined, 'CUSTODIAN_AUTH_INVALID'],
    ['the portal\'s own token as the user\'s', '/api/customers/1', [portal, forwarded(portalAsUser)], undefined, 'CUSTODIAN_AUTH_INVALID'],
    ['forwarded garbage', '/api/customers/1', [portal, forwarded('not a token at all')], undefined, 'CUSTODIAN_AUTH_INVALID'],
    ['two forwarded tokens', '/api/customers/1', [portal, forwarded(agentToken), forwarded(agentToken)], undefined, 'CUSTODIAN_END_USER_REQUIRED'],
    ['two user headers', '/api/customers/1', [portal, 'X-Portal-User: agent-1', 'X-Portal-User: agent-2'], undefined, 'CUSTODIAN_END_USER_REQUIRED'],
    ['user header with a list', '/api/customers/1', [portal, 'X-Portal-User: agent-1, agent-2'], undefined, 'CUSTODIAN_END_USER_REQUIRED'],
    ['user header with spaces', '/api/customers/1', [portal, 'X-Portal-User: agent 1'], undefined, 'CUSTODIAN_END_USER_REQUIRED'],
    ['user header empty', '/api/customers/1', [portal, 'X-Portal-User: '], undefined, 'CUSTODIAN_END_USER_REQUIRED'],
    ['user header from a staff caller', '/api/customers/1', [staff, 'X-Purpose: credit_assessment', 'X-Portal-User: agent-7'], undefined, 'CUSTODIAN_END_USER_UNTRUSTED'],
    ['forwarded token from a staff caller', '/api/customers/1', [staff, 'X-Purpose: credit_assessment', forwarded(agentToken)], undefined, 'CUSTODIAN_END_USER_UNTRUSTED'],
    ['user header, differently cased, from a staff caller', '/api/customers/1', [staff, 'X-Purpose: credit_assessment', 'x-PORTAL-user: agent-7'], undefined, 'CUSTODIAN_END_USER_UNTRUSTED'],
    ['the portal\'s header from the scoring job', '/api/customers/1', ['X-Portal-User: agent-7'], scoringCert, 'CUSTODIAN_END_USER_UNTRUSTED'],
    ['user header with no credential at all', '/api/customers/1', ['X-Portal-User: agent-7', 'X-Purpose: customer_service'], undefined, 'CUSTODIAN_AUTH_MISSING'],
    ['the portal\'s token with the scoring job\'s certificate', '/api/customers/1', [portal, forwarded(agentToken)], scoringCert, 'CUSTODIAN_AUTH_INVALID'],
    ['scoring job declaring a purpose it does not serve', '/api/customers/1', ['X-Purpose: customer_service'], scoringCert, 'CUSTODIAN_PURPOSE_NOT_ALLOWED'],
    ['scoring job on a route it does not serve', '/api/customers/1/loans', [], scoringCert, 'CUSTODIAN_PURPOSE_NOT_ALLOWED'],
  ];
  for (const [name, path, headers, cert, code] of refusals) t.equal((await call(path, headers, cert)).code, code, name);
  t.equal(origin.seen.length, allowed, 'no refused request reached the upstream');

  // The records name the application and the person, and how the person was named.
  const records = await waitFor(async () => {
    const all = (await listSegments(join(gw.dir, 'var', 'audit')))
      .flatMap((s) => readFileSync(s.file, 'utf8').split('\n').filter(Boolean))
      .map((l) => JSON.parse(l).record as AuditRecord)
      .filter((r) => r.type === 'decision');
    return all.length >= allowed + refusals.length ? all : undefined;
  }, 'decision records');
  const callers = records.filter((r) => r.decision === 'allow').map((r) => r.caller);
  t.match(callers, [
    { sub: 'agent-7', kind: 'staff', roles: ['cs_agent'], app: 'cs-portal', endUser: 'token' },
    { sub: 'agent-9', kind: 'staff', roles: ['cs_agent'], app: 'cs-portal', endUser: 'header' },
    { sub: 'officer-3', roles: ['credit_officer'], app: 'cs-portal', endUser: 'token' },
    { sub: 'scoring-job', kind: 'service', roles: ['scoring'], app: 'scoring-job', endUser: 'none' },
  ]);
  const untrusted = records.find((r) => r.reason === 'CUSTODIAN_END_USER_UNTRUSTED');
  t.equal(untrusted?.caller?.sub, 'officer-3', 'an untrusted header is recorded against the caller who sent it');
  t.equal(untrusted?.caller?.app, undefined);
  const journal = (await listSegments(join(gw.dir, 'var', 'audit'))).map((s) => readFileSync(s.file, 'utf8')).join('');
  t.notOk(journal.includes(agentToken.split('.')[2] as string), 'no forwarded token in the record');

  // The supervision group sees each application's traffic: application ids from the policy, never a person.
  const metrics = await waitFor(async () => {
    const text = await (await request(`${gw.adminUrl}/metrics`)).body.text();
    return text.includes('custodian_application_requests_total{application="scoring-job",route="customers.loans",decision="deny"} 1') ? text : undefined;
  }, 'the last refusal counted');
  t.match(metrics, 'custodian_application_requests_total{application="cs-portal",route="customers.detail",decision="allow"} 2', 'the portal\'s two reads');
  t.match(metrics, 'custodian_application_requests_total{application="cs-portal",route="customers.loans",decision="allow"} 1');
  t.match(metrics, 'custodian_application_requests_total{application="scoring-job",route="customers.detail",decision="allow"} 1');
  t.match(metrics, 'custodian_application_requests_total{application="scoring-job",route="customers.detail",decision="deny"} 1', 'its refusal beside its reads');
  t.notMatch(metrics, /agent-[0-9]|officer-3/, 'no person in any label');
  t.notMatch(metrics, /custodian_application_requests_total\{application="(?!cs-portal|scoring-job)/, 'only the policy\'s applications');
});

t.test('an application whose users may be anonymous acts under its own roles', async (t) => {
  const { origin, gw } = await gatewayWithOrigin(t, {
    routes,
    purposes,
    clients: [
      {
        ...clients[0],
        routes: { 'customers.detail': ['risk_scoring', 'customer_service'] },
        roles: ['scoring'],
        endUser: { required: false, header: { name: 'X-Portal-User', roles: ['cs_agent'] } },
      },
    ],
  });
  const res = await rawHttps(gw.port, get('/api/customers/1', [portal]), { ca: gw.ca });
  t.equal(res.status, 200, 'no user named, required: false: the first listed purpose, under the application\'s roles');
  t.equal(origin.seen.at(-1)?.headers['x-custodian-subject'], 'cs-portal');
  t.equal(origin.seen.at(-1)?.headers['x-custodian-caller-kind'], 'service');
  const asStaff = await rawHttps(gw.port, get('/api/customers/1', [portal, 'X-Purpose: customer_service']), { ca: gw.ca });
  t.equal(JSON.parse(asStaff.body).error.code, 'CUSTODIAN_PURPOSE_NOT_ALLOWED', 'the application alone is not a member of staff');
  const lapsed = await rawHttps(gw.port, get('/api/customers/1', [portal, 'X-Portal-User: agent-4', 'X-Purpose: customer_service']), { ca: gw.ca });
  t.equal(JSON.parse(lapsed.body).error.code, 'CUSTODIAN_ATTESTATION_LAPSED', 'a user named by header has only the attestations the entry vouches for (none here)');
  t.equal(origin.seen.length, 1);
});
