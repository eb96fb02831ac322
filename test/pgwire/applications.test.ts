import { join } from 'node:path';
import { generate } from 'selfsigned';
import t, { type Test } from 'tap';
import { request } from 'undici';
import type { AuditRecord } from '../../src/audit/record.js';
import { customer } from '../../src/demo/dataset.js';
import { maskMobile, maskResidentId } from '../../src/mask/presets.js';
import { clientCertificate } from '../helpers/certs.js';
import { journalText } from '../helpers/child-gateway.js';
import { startTestGateway, testKey } from '../helpers/gateway.js';
import { createLoanDatabase } from '../helpers/loan-database.js';
import { pgMitm } from '../helpers/pg-mitm.js';
import { statementOnce } from '../helpers/pg-once.js';
import { mint, testPurposes } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Existing applications through the PostgreSQL front end, held to their `clients` entries as over
 * HTTP: a BI tool identified by its certificate passes its user's own token as the password and
 * keeps its own application_name; a nightly job acts alone under its own roles; an application
 * that must name its user, or that is not configured for the database, is refused at startup
 * before any connection to the database is opened.
 */

const people = Array.from({ length: 4 }, (_, i) => {
  const c = customer(i + 1);
  return { id: i + 1, name: c.name, idNumber: c.idNumber, mobile: c.mobile, city: 'Hangzhou', remarks: `客户来电，手机${c.mobile}` };
});
const biCert = await clientCertificate('bi-tool');
const nightlyCert = await clientCertificate('nightly-report');
// Named like the job, signed by nobody the gateway trusts.
const forgedNightly = await generate([{ name: 'commonName', value: 'nightly-report' }], { keyType: 'ec', algorithm: 'sha256' }).then((p) => ({ cert: p.cert, key: p.private }));
const now = Math.floor(Date.now() / 1000);

const purposes = [
  ...testPurposes(),
  { id: 'risk_scoring', description: '风险管理', lawfulBasis: 'contract', roles: ['scoring'], callerKinds: ['service'], approvedBy: 'officer.li', reviewUntil: '2099-12-31' },
];
const clients = [
  // A BI tool: many analysts, one connection string; it forwards each analyst's own token.
  { id: 'bi-tool', identity: { certificate: { cn: 'bi-tool' } }, database: ['customer_service', 'credit_assessment'], endUser: { token: { header: 'X-Forwarded-Access-Token' } } },
  // A nightly job acting on its own.
  { id: 'nightly-report', identity: { certificate: { cn: 'nightly-report' } }, database: 'risk_scoring', roles: ['scoring'] },
  // The portal: an HTTP application only.
  { id: 'cs-portal', identity: { token: { issuer: 'test-idp', subject: 'cs-portal' } }, routes: { unused: 'customer_service' }, roles: ['cs_agent'], attestations: { training: '2099-12-31' } },
  // An application with roles of its own that must still name its user (the default).
  {
    id: 'collections',
    identity: { token: { issuer: 'test-idp', subject: 'collections' } },
    database: 'customer_service',
    roles: ['cs_agent'],
    attestations: { training: '2099-12-31' },
    endUser: { header: { name: 'X-Collector', roles: ['cs_agent'] } },
  },
];

/** The loan database behind a counting relay, and a gateway with the applications above. */
async function setup(t: Test, clientCertificate: 'request' | 'require') {
  const loans = await createLoanDatabase(t, people);
  t.teardown(() => loans.db.end());
  const relay = await pgMitm(Number(new URL(loans.url).port || 5432));
  t.teardown(() => relay.close());
  const upstreamUrl = new URL(loans.url);
  upstreamUrl.port = String(relay.port);
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: 'http://127.0.0.1:9', allowPlaintext: true } },
    routes: [{ id: 'unused', method: 'GET', path: '/unused', upstream: 'origin', purposes: ['customer_service'] }],
    purposes,
    clients,
    tls: { cert: { file: 'server.pem' }, key: { file: 'server-key.pem' }, clientCa: { file: 'client-ca.pem' }, clientCertificate },
    classification: {
      fields: {
        id: { class: 'public' },
        city: { class: 'C1' },
        remarks: { class: 'C1' },
        name: { class: 'C2', operator: { mask: 'name' } },
        idNumber: { class: 'C2', operator: { mask: 'resident_id' } },
        mobile: { class: 'C2', operator: { mask: 'mobile' } },
      },
    },
    database: {
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { url: upstreamUrl.toString(), allowPlaintext: true },
      purposes: ['customer_service', 'credit_assessment', 'risk_scoring'],
      tables: { customers: { subject: 'id', columns: { id: 'id', name: 'name', id_number: 'idNumber', mobile: 'mobile', city: 'city', remarks: 'remarks' } } },
      views: { credit_assessment: { classes: { C2: 'keep' } } },
    },
  });
  return { gw, relay };
}

t.test('applications through the database front end: purpose and person as their entries say', async (t) => {
  const { gw, relay } = await setup(t, 'request');
  /** Connect as an unchanged client would (its own application_name), run one statement, close. */
  const run = (options: { password?: string; cert?: { cert: string; key: string }; purpose?: string; applicationName?: string }) =>
    statementOnce(
      {
        host: '127.0.0.1',
        port: gw.databasePort,
        user: 'reporting',
        database: 'loans',
        password: options.password,
        ssl: { ca: gw.ca, servername: 'localhost', ...options.cert },
        application_name: options.applicationName ?? 'Metabase',
        options: options.purpose ? `-c custodian.purpose=${options.purpose}` : undefined,
      },
      'SELECT id, id_number, mobile FROM customers ORDER BY id',
    );
  const first = people[0] as (typeof people)[number];
  const agent = await mint(testKey, { sub: 'analyst.chen', roles: ['cs_agent'] });
  const officer = await mint(testKey, { sub: 'officer.zhao', roles: ['credit_officer'] });

  // 1. The BI tool, its own application_name, the analyst's token as the password: the tool's first purpose.
  const viaTool = await run({ cert: biCert, password: agent });
  t.same(viaTool.rows?.[0], { id: 1, id_number: maskResidentId(first.idNumber), mobile: maskMobile(first.mobile) }, 'customer service view, masked');
  // 2. A listed purpose chosen in options, under the officer's own roles: identity in clear.
  const credit = await run({ cert: biCert, password: officer, purpose: 'credit_assessment' });
  t.same(credit.rows?.[0], { id: 1, id_number: first.idNumber, mobile: first.mobile }, 'credit assessment through the tool');
  // 3. An application_name that is one of the tool's purposes counts as its declaration.
  t.same((await run({ cert: biCert, password: officer, applicationName: 'credit_assessment' })).rows?.[0]?.id_number, first.idNumber);
  // 4. The nightly job on its own, with its certificate and no password.
  const nightly = await run({ cert: nightlyCert });
  t.same(nightly.rows?.[0], { id: 1, id_number: maskResidentId(first.idNumber), mobile: maskMobile(first.mobile) }, 'the job acts under its own role');
  const opened = relay.connections;

  const portal = await mint(testKey, { sub: 'cs-portal', kind: 'service', roles: [], attestations: {} });
  const collections = await mint(testKey, { sub: 'collections', kind: 'service', roles: [], attestations: {} });
  const lapsed = await mint(testKey, { sub: 'analyst.wu', roles: ['cs_agent'], attestations: { training: now - 86400 } });
  const partner = await mint(testKey, { sub: 'bureau-a', kind: 'partner', org: 'bureau-a', roles: ['cs_agent'] });
  const expired = await mint(testKey, { sub: 'analyst.chen', roles: ['cs_agent'] }, { nowSec: now - 7200, lifetimeSec: 600 });
  const refusals: [string, Parameters<typeof run>[0], RegExp][] = [
    ['the BI tool naming no one', { cert: biCert }, /CUSTODIAN_END_USER_REQUIRED/],
    ['a purpose outside the tool\'s list', { cert: biCert, password: agent, purpose: 'risk_scoring' }, /CUSTODIAN_PURPOSE_NOT_ALLOWED/],
    ['a listed purpose the analyst\'s roles do not hold', { cert: biCert, password: agent, purpose: 'credit_assessment' }, /CUSTODIAN_PURPOSE_NOT_ALLOWED/],
    ['an analyst whose training lapsed', { cert: biCert, password: lapsed }, /CUSTODIAN_ATTESTATION_LAPSED/],
    ['an expired analyst token', { cert: biCert, password: expired }, /CUSTODIAN_AUTH_EXPIRED/],
    ['a partner\'s token through the tool', { cert: biCert, password: partner }, /CUSTODIAN_AUTH_INVALID/],
    ['an application\'s token as the person', { cert: biCert, password: collections }, /CUSTODIAN_AUTH_INVALID/],
    ['garbage as the person\'s token', { cert: biCert, password: 'not-a-token' }, /CUSTODIAN_AUTH_INVALID/],
    ['a certificate named like the job, signed by no trusted CA', { cert: forgedNightly }, /CUSTODIAN_AUTH_MISSING/],
    ['the job declaring a purpose it does not use', { cert: nightlyCert, purpose: 'customer_service' }, /CUSTODIAN_PURPOSE_NOT_ALLOWED/],
    ['the job with a token beside its certificate', { cert: nightlyCert, password: agent }, /CUSTODIAN_AUTH_INVALID/],
    ['the portal, configured for HTTP only', { password: portal, purpose: 'customer_service' }, /CUSTODIAN_PURPOSE_NOT_ALLOWED/],
    ['an application that must name its user, alone', { password: collections }, /CUSTODIAN_END_USER_REQUIRED/],
  ];
  for (const [what, options, expected] of refusals) t.match((await run(options)).error?.message, expected, what);
  t.equal(relay.connections, opened, 'no refused session opened a connection to the database');

  // The supervision group's counter: statements and refused sessions per application.
  const counted = (application: string, decision: string) => new RegExp(`custodian_application_requests_total\\{application="${application}",route="database",decision="${decision}"\\} (\\d+)`);
  const metrics = await waitFor(async () => {
    const text = await (await request(`${gw.adminUrl}/metrics`)).body.text();
    return counted('nightly-report', 'allow').test(text) ? text : undefined;
  }, 'the statements counted');
  const count = (application: string, decision: string) => Number(counted(application, decision).exec(metrics)?.[1] ?? 0);
  t.same(
    [count('bi-tool', 'allow'), count('bi-tool', 'deny'), count('nightly-report', 'allow'), count('nightly-report', 'deny'), count('cs-portal', 'deny'), count('collections', 'deny')],
    [3, 8, 1, 1, 1, 1],
    'three statements through the tool, eight refused sessions; the job\'s one statement and one refusal; the portal and the collections app refused once each',
  );

  await gw.audit.flush();
  const records = (await journalText(join(gw.dir, 'var', 'audit')))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l).record as AuditRecord)
    .filter((r) => r.type === 'decision' && r.route === 'database');
  t.same(
    records.filter((r) => r.decision === 'allow').map((r) => [r.caller?.sub, r.caller?.kind, r.caller?.app, r.caller?.endUser, r.purpose]),
    [
      ['analyst.chen', 'staff', 'bi-tool', 'token', 'customer_service'],
      ['officer.zhao', 'staff', 'bi-tool', 'token', 'credit_assessment'],
      ['officer.zhao', 'staff', 'bi-tool', 'token', 'credit_assessment'],
      ['nightly-report', 'service', 'nightly-report', 'none', 'risk_scoring'],
    ],
    'each statement names the application and the person',
  );
  const connects = records.filter((r) => r.method === 'CONNECT');
  t.equal(connects.length, refusals.length, 'every refused session is recorded');
  t.ok(connects.some((r) => r.reason === 'CUSTODIAN_END_USER_REQUIRED' && r.caller?.app === 'collections'), 'a refused application is recorded as itself');
  t.notOk(JSON.stringify(records).includes(agent.split('.')[2] as string), 'no token in any record');
});

t.test('with clientCertificate: require, a database client without a certificate is refused at the handshake', async (t) => {
  const { gw, relay } = await setup(t, 'require');
  const connect = (cert?: { cert: string; key: string }) =>
    statementOnce({ host: '127.0.0.1', port: gw.databasePort, user: 'reporting', database: 'loans', ssl: { ca: gw.ca, servername: 'localhost', ...cert } }, 'SELECT id FROM customers WHERE id = 1');
  const before = relay.connections;
  const noCertificate = await connect();
  t.type(noCertificate.error?.message, 'string', 'no certificate: refused');
  t.notMatch(noCertificate.error?.message, /^CUSTODIAN_/, 'at the handshake, before any startup message is read');
  t.equal((await connect()).rows, undefined, 'and no rows');
  t.equal(relay.connections, before, 'nothing reached the database');
  t.same((await connect(nightlyCert)).rows, [{ id: 1 }], 'the job with its certificate connects');
});
