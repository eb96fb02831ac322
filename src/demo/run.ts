import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { isAbsolute, join, relative } from 'node:path';
import { parseDocument } from 'yaml';
import { parseConfig } from '../config/load.js';
import type { Logger } from '../logging.js';
import { shipped } from '../paths.js';
import { type RunningGateway, startGateway } from '../server.js';
import { createDemoIdentityProvider, demoCast } from './identity-provider.js';
import { buildLoanApi } from './loan-api.js';
import { startDemoLoanDatabase } from './loan-database.js';
import { customer } from './dataset.js';
import { maskResidentId } from '../mask/presets.js';
import { ensureDemoPki } from './pki.js';
import { listConsents, recordConsent } from '../governance/consents.js';
import { randomBytes } from 'node:crypto';
import { type PortalProcess, startPortal } from './portal-process.js';

export interface DemoOptions {
  readonly varDir: string;
  /** Bind every listener to an ephemeral loopback port instead of the documented ones (tests). */
  readonly ephemeralPorts?: boolean;
  readonly logger?: Logger;
}

export interface RunningDemo {
  readonly gateway: RunningGateway;
  /** Tokens by cast name, as written to var/demo-tokens.json. */
  readonly tokens: Readonly<Record<string, string>>;
  /** What `npm start` prints: tokens and curl lines. */
  readonly instructions: string;
  /** The demo customer-service portal (its own process), which calls the loan API through the gateway. */
  readonly portalUrl: string;
  close(): Promise<void>;
}

const TOKEN_LIFETIME_SEC = 12 * 3600;
/** The demo customer-service portal's port (an existing application, in front of the gateway). */
const PORTAL_PORT = 9703;

/**
 * Start the whole demo: identity provider, demo loan API, and the gateway in front of it with
 * config/demo.yaml. Tokens are minted fresh at every start and written to var/.
 */
export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const { varDir } = options;
  const pki = await ensureDemoPki(varDir);
  const idp = await createDemoIdentityProvider(varDir);
  const loanApi = buildLoanApi({ customers: 1000 });

  const source = shipped('config/demo.yaml');
  const shippedText = readFileSync(source, 'utf8');
  const doc = parseDocument(shippedText);
  const loansUrl = new URL(String(doc.getIn(['upstreams', 'loans', 'url'])));
  const loanDbUrl = new URL(String(doc.getIn(['database', 'upstream', 'url'])));
  const jwksUrl = new URL(String(doc.getIn(['auth', 'issuers', 0, 'jwks', 'url'])));
  const ephemeral = options.ephemeralPorts ?? false;
  await loanApi.listen({ host: loansUrl.hostname, port: ephemeral ? 0 : Number(loansUrl.port) });
  await idp.server.listen({ host: jwksUrl.hostname, port: ephemeral ? 0 : Number(jwksUrl.port) });
  const loanDb = await startDemoLoanDatabase(loanDbUrl.hostname, ephemeral ? 0 : Number(loanDbUrl.port));
  if (ephemeral) {
    loansUrl.port = String((loanApi.server.address() as AddressInfo).port);
    jwksUrl.port = String((idp.server.server.address() as AddressInfo).port);
    doc.setIn(['upstreams', 'loans', 'url'], loansUrl.origin);
    doc.setIn(['auth', 'issuers', 0, 'jwks', 'url'], jwksUrl.href);
    for (const listener of ['data', 'plaintext', 'admin']) {
      doc.setIn(['listen', listener, 'host'], '127.0.0.1');
      doc.setIn(['listen', listener, 'port'], 0);
    }
    loanDbUrl.port = String(loanDb.port);
    doc.setIn(['database', 'upstream', 'url'], loanDbUrl.href);
    doc.setIn(['database', 'listen', 'host'], '127.0.0.1');
    doc.setIn(['database', 'listen', 'port'], 0);
  }

  let gateway: RunningGateway;
  try {
    // The file as shipped, byte for byte (its recorded digest is the file's sha256); only tests'
    // ephemeral ports run a rewritten text, which is then the text kept with the version.
    const config = parseConfig(source, ephemeral ? doc.toString() : shippedText);
    gateway = await startGateway(config, { varDir, logger: options.logger });
  } catch (err) {
    await Promise.allSettled([loanApi.close(), idp.server.close(), loanDb.close()]);
    throw err;
  }

  // Demo only: customer 42 has consented to bureau-a receiving part of their record for credit
  // reporting (customer 43 has not), so the partner examples show both outcomes.
  const existing = await listConsents(gateway.db, '42');
  if (!existing.some((c) => c.recipient === 'bureau-a' && c.withdrawnAt === null && Date.parse(c.expiresAt) > Date.now())) {
    await recordConsent(gateway.db, {
      customerId: '42',
      recipient: 'bureau-a',
      purpose: 'credit_reporting',
      fields: ['id', 'name', 'idNumber', 'creditScore', 'riskLevel'],
      expiresAt: new Date(Date.now() + 365 * 86400_000).toISOString(),
      evidence: 'demo: signed consent form CF-42',
      recordedBy: 'demo',
    });
  }
  await gateway.governance.consents.refresh();

  const cast = demoCast(Math.floor(Date.now() / 1000), pki.partnerCert);
  const tokens: Record<string, string> = {};
  for (const [name, claims] of Object.entries(cast)) tokens[name] = await idp.mint(claims, TOKEN_LIFETIME_SEC);
  writeFileSync(join(varDir, 'demo-tokens.json'), `${JSON.stringify(tokens, null, 2)}\n`, { mode: 0o600 });
  // The information-protection officer, for the admin API (kept apart from the callers' tokens).
  const officer = await idp.mint({ sub: 'officer.zhang', kind: 'staff', roles: ['information_officer'] }, TOKEN_LIFETIME_SEC);
  // A supervisor who approves destructive operations (four-eyes), for the admin API.
  const approver = await idp.mint({ sub: 'supervisor.chen', kind: 'staff', roles: ['approver'] }, TOKEN_LIFETIME_SEC);
  const envFile = join(varDir, 'demo-env.sh');
  writeFileSync(
    envFile,
    `${[...Object.entries(tokens), ['officer', officer], ['approver', approver]]
      .map(([name, token]) => `export ${(name as string).toUpperCase()}='${token}'`)
      .join('\n')}\n`,
    { mode: 0o600 },
  );

  // The existing application: registered with the identity provider for client credentials
  // (the company would have done this long ago), started with the gateway as its loan API.
  const portalSecret = randomBytes(24).toString('base64url');
  idp.registerClient('cs-portal', portalSecret, { kind: 'service' });
  let portal: PortalProcess;
  try {
    portal = await startPortal({
      port: ephemeral ? 0 : PORTAL_PORT,
      loanApiUrl: gateway.dataUrl.replace('127.0.0.1', 'localhost'),
      tokenUrl: new URL('/oauth/token', jwksUrl).href,
      clientId: 'cs-portal',
      clientSecret: portalSecret,
      caFile: pki.caCertPath,
    });
  } catch (err) {
    await gateway.close();
    await Promise.allSettled([loanApi.close(), idp.server.close(), loanDb.close()]);
    throw err;
  }

  const instructions = demoInstructions({
    portalUrl: portal.url,
    dataUrl: gateway.dataUrl.replace('127.0.0.1', 'localhost'),
    adminUrl: gateway.adminUrl,
    plaintextUrl: gateway.plaintextUrl?.replace('127.0.0.1', 'localhost'),
    databasePort: gateway.databasePort,
    loansOrigin: loansUrl.origin,
    caPath: shortPath(pki.caCertPath),
    partnerCert: shortPath(pki.partnerCertPath),
    partnerKey: shortPath(pki.partnerKeyPath),
    biToolCert: shortPath(pki.biToolCertPath),
    biToolKey: shortPath(pki.biToolKeyPath),
    envFile: shortPath(envFile),
    tokens,
  });

  return {
    gateway,
    tokens,
    instructions,
    portalUrl: portal.url,
    async close() {
      await portal.close();
      await gateway.close();
      await Promise.allSettled([loanApi.close(), idp.server.close(), loanDb.close()]);
    },
  };
}

/** A path relative to the working directory when it lies below it (shorter curl lines). */
function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

interface InstructionFacts {
  portalUrl: string;
  dataUrl: string;
  adminUrl: string;
  plaintextUrl: string | undefined;
  databasePort: number | undefined;
  loansOrigin: string;
  caPath: string;
  partnerCert: string;
  partnerKey: string;
  biToolCert: string;
  biToolKey: string;
  envFile: string;
  tokens: Record<string, string>;
}

/**
 * The curl lines. Each ends with `# expect <status> [code]`; the demo test runs every line and
 * checks that expectation, so the printed examples cannot drift from what the gateway does.
 */
function demoInstructions(f: InstructionFacts): string {
  const curl = (token: string | undefined, purpose: string | undefined, path: string, extra = '') =>
    [
      `curl --cacert ${f.caPath}`,
      extra,
      token ? `-H "Authorization: Bearer $${token.toUpperCase()}"` : '',
      purpose ? `-H "X-Purpose: ${purpose}"` : '',
      `'${f.dataUrl}${path}'`,
    ]
      .filter(Boolean)
      .join(' ');
  const partnerTls = `--cert ${f.partnerCert} --key ${f.partnerKey}`;
  const examples: [string, string][] = [
    [curl('credit_officer', 'credit_assessment', '/api/customers/42'), 'expect 200'],
    [curl('cs_agent', 'customer_service', '/api/customers?page=1&pageSize=5'), 'expect 200'],
    [curl('collector', 'collection', '/api/customers/42/loans'), 'expect 200'],
    [curl('partner', 'credit_reporting', '/api/customers/42', partnerTls), 'expect 200 (partner: certificate + bound token; consented fields only)'],
    [curl('partner', 'credit_reporting', '/api/customers/43', partnerTls), 'expect 403 CUSTODIAN_CONSENT_REQUIRED'],
    [curl(undefined, undefined, '/api/customers/42'), 'expect 401 CUSTODIAN_AUTH_MISSING'],
    [curl('credit_officer', undefined, '/api/customers/42'), 'expect 403 CUSTODIAN_PURPOSE_MISSING'],
    [curl('cs_agent', 'credit_assessment', '/api/customers/42'), 'expect 403 CUSTODIAN_PURPOSE_NOT_ALLOWED'],
    [curl('training_lapsed', 'credit_assessment', '/api/customers/42'), 'expect 403 CUSTODIAN_ATTESTATION_LAPSED'],
    [curl('partner', 'credit_reporting', '/api/customers/42'), 'expect 403 CUSTODIAN_CLIENT_CERT_REQUIRED'],
    [curl('auditor', 'internal_audit', '/api/exports/customers?count=5'), 'expect 403 CUSTODIAN_PURPOSE_NOT_ALLOWED'],
    [curl('credit_officer', 'credit_assessment', '/api/customers/..%2f..%2fadmin'), 'expect 400 CUSTODIAN_PATH_INVALID'],
    [curl('cs_agent', 'customer_service', '/api/customers/42/documents/contract-1', '-X DELETE'), 'expect 403 CUSTODIAN_APPROVAL_REQUIRED'],
    [curl('credit_officer', 'credit_assessment', '/internal/anything'), 'expect 404 CUSTODIAN_ROUTE_NOT_FOUND'],
  ];
  // An existing application, unchanged but for its loan-API base URL: the agent asks the portal;
  // the portal asks the gateway with its own token and the agent's; the agent's view comes back.
  examples.push(
    [`curl -H "Authorization: Bearer $CS_AGENT" '${f.portalUrl}/portal/customers/42'`, 'expect 200 (through the customer-service portal: no X-Purpose, the customer-service view)'],
    [`curl -H "Authorization: Bearer $TRAINING_LAPSED" '${f.portalUrl}/portal/customers/42'`, 'expect 403 (the portal relays the refusal: the agent\'s training has lapsed)'],
    [`curl -H "Authorization: Bearer $OFFICER" '${f.adminUrl}/audit/subjects/42'`, 'expect 200 (the access records name the portal, cs-portal, and the agent, staff-0108)'],
  );
  if (f.plaintextUrl) examples.push([`curl '${f.plaintextUrl}/api/customers/42'`, 'expect 403 CUSTODIAN_TLS_REQUIRED']);
  if (f.databasePort !== undefined) {
    // The loan database through the PostgreSQL front end: the token is the password, the purpose
    // a startup option; each purpose its own view, and a condition on a masked column refused.
    const psql = (token: string, purpose: string, sql: string) =>
      `PGPASSWORD=$${token.toUpperCase()} psql "host=localhost port=${f.databasePort} user=analyst dbname=loans sslmode=verify-full sslrootcert=${f.caPath} options='-c custodian.purpose=${purpose}'" -c "${sql}"`;
    const c42 = customer(42);
    examples.push(
      [psql('cs_agent', 'customer_service', 'SELECT id, name, id_number, mobile FROM customers WHERE id = 42'), `expect psql ${maskResidentId(c42.idNumber)}`],
      [psql('credit_officer', 'credit_assessment', 'SELECT id, name, id_number, mobile FROM customers WHERE id = 42'), `expect psql ${c42.idNumber}`],
      [psql('cs_agent', 'customer_service', "SELECT id FROM customers WHERE id_number LIKE '3301%'"), 'expect psql CUSTODIAN_STATEMENT_REFUSED'],
      // A BI tool (an application in `clients`): its certificate, the analyst's own token as the
      // password, its own application_name and no purpose option — the tool's purpose applies.
      [
        `PGPASSWORD=$CS_AGENT psql "host=localhost port=${f.databasePort} user=analyst dbname=loans sslmode=verify-full sslrootcert=${f.caPath} sslcert=${f.biToolCert} sslkey=${f.biToolKey} application_name=Metabase" -c "SELECT id, name, id_number, mobile FROM customers WHERE id = 42"`,
        `expect psql ${maskResidentId(c42.idNumber)}`,
      ],
    );
  }
  return [
    '',
    'Custodian demo is running.',
    `  data plane    ${f.dataUrl}   (CA: ${f.caPath})`,
    `  admin plane   ${f.adminUrl}/readyz`,
    f.databasePort !== undefined ? `  database      postgresql://localhost:${f.databasePort}/loans   (TLS; token as password)` : undefined,
    f.plaintextUrl ? `  plaintext     ${f.plaintextUrl}   (refuses every request)` : undefined,
    `  demo loan API ${f.loansOrigin}   (behind the gateway; loopback only)`,
    `  demo portal   ${f.portalUrl}   (an existing customer-service app; its loan API is the gateway)`,
    '',
    `Demo tokens (valid 12 hours; also in ${f.envFile.replace('demo-env.sh', 'demo-tokens.json')}):`,
    ...Object.entries(f.tokens).map(([name, token]) => `  ${name.toUpperCase()}=${token}`),
    '',
    `Load them into your shell, then try the examples:`,
    `  source ${f.envFile}`,
    ...examples.flatMap(([line, expect]) => [`  # ${expect}`, `  ${line}`]),
    '',
    'Press Ctrl-C to stop.',
  ]
    .filter((l) => l !== undefined)
    .join('\n');
}
