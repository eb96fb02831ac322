import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import t from 'tap';
import { ConfigError } from '../../src/config/issues.js';
import { parseConfig } from '../../src/config/load.js';
import { formatImpact, policyImpact } from '../../src/policy/impact.js';

// The demo's `clients` entry, edited the ways an officer could get it wrong: each mistake is one
// error at its line, and the gateway never starts with an application it cannot place.
const source = resolve('config/demo.yaml');
const demo = readFileSync(source, 'utf8');
const entry = `  - id: cs-portal
    name: 客服工作台 (customer-service portal)
    # Its OAuth2 client-credentials token from the company's identity provider.
    identity: { token: { issuer: demo-idp, subject: cs-portal } }
    routes:
      customers.detail: customer_service
      customers.loans: customer_service
`;

function load(text: string) {
  try {
    return { config: parseConfig(source, text, { env: {} }), issues: [] };
  } catch (err) {
    if (err instanceof ConfigError) return { config: undefined, issues: err.issues };
    throw err;
  }
}

t.test('the demo entry is where this test expects it', async (t) => {
  t.ok(demo.includes(entry));
  t.equal(load(demo).config?.clients.length, 2);
});

const mistakes: { what: string; from: string; to: string; says: RegExp }[] = [
  { what: 'an unknown route', from: '      customers.loans: customer_service\n', to: '      customers.loan: customer_service\n', says: /unknown route "customers.loan"; did you mean "customers.loans"\?/ },
  { what: 'a purpose the route does not allow', from: '      customers.loans: customer_service\n', to: '      customers.loans: credit_reporting\n', says: /route "customers.loans" does not allow purpose "credit_reporting"/ },
  { what: 'an unknown issuer', from: 'issuer: demo-idp, subject: cs-portal', to: 'issuer: demo-ipd, subject: cs-portal', says: /unknown issuer "demo-ipd"; did you mean "demo-idp"\?/ },
  { what: 'a reserved header for the user', from: 'token: { header: X-Forwarded-Access-Token }', to: 'token: { header: Authorization }', says: /"authorization" cannot name an end user/ },
  { what: 'the purpose header for the user', from: 'token: { header: X-Forwarded-Access-Token }', to: 'token: { header: X-Purpose }', says: /"x-purpose" cannot name an end user/ },
  { what: 'a gateway header for the user', from: 'token: { header: X-Forwarded-Access-Token }', to: 'token: { header: X-Custodian-Subject }', says: /"x-custodian-subject" cannot name an end user/ },
  { what: 'both user headers the same', from: 'token: { header: X-Forwarded-Access-Token }', to: 'token: { header: X-User }\n      header: { name: x-user, roles: [cs_agent] }', says: /the token header and the user header must differ/ },
  { what: 'an end user named no way', from: '      token: { header: X-Forwarded-Access-Token }', to: '      required: false', says: /name how the end user is identified/ },
  { what: 'a misspelt identity kind', from: 'identity: { token: {', to: 'identity: { tokn: {', says: /unknown key "tokn"; did you mean "token"\?/ },
];

for (const m of mistakes) {
  t.test(m.what, async (t) => {
    t.ok(demo.includes(m.from), 'the demo contains the text to edit');
    const edited = demo.replace(m.from, m.to);
    const { issues } = load(edited);
    t.equal(issues.length, 1, `one error, not ${issues.length}: ${issues.map((i) => i.message).join(' | ')}`);
    t.match(issues[0]?.message, m.says);
    const line = edited.slice(0, edited.indexOf(m.to)).split('\n').length;
    t.ok(issues[0] && issues[0].line >= line - 1 && issues[0].line <= line + 1, `at the mistake's line (${issues[0]?.line} vs ${line})`);
  });
}

/** The demo with one more application appended to its `clients` list. */
const withClient = (yaml: string) => demo.replace('\n\n# The data dictionary', `\n${yaml}\n# The data dictionary`);

t.test('two applications with one identity, or one header, or a certificate that is also a caller', async (t) => {
  const routes = '    routes: { customers.detail: customer_service }\n';
  t.match(load(withClient(`  - id: cs-portal-2\n    identity: { token: { issuer: demo-idp, subject: cs-portal } }\n${routes}`)).issues.map((i) => i.message), [/client "cs-portal" has the same identity/]);
  t.match(
    load(withClient(`  - id: other-app\n    identity: { token: { issuer: demo-idp, subject: other-app } }\n${routes}    endUser: { header: { name: X-Forwarded-Access-Token, roles: [cs_agent] } }\n`)).issues.map((i) => i.message),
    [/client "cs-portal" already uses the header "x-forwarded-access-token"/],
  );
  t.match(
    load(withClient(`  - id: bureau-app\n    identity: { certificate: { uri: "spiffe://custodian-demo/partners/bureau-a" } }\n${routes}`)).issues.map((i) => i.message),
    [/auth.clientCertificates maps the same certificate to a caller/],
  );
  t.equal(load(withClient(`  - id: scoring\n    identity: { certificate: { cn: scoring-job } }\n${routes}`)).issues.length, 0, 'a second, distinct application loads');
});

t.test('an application through the database front end', async (t) => {
  const bi = (database: string) => withClient(`  - id: bi-tool-2\n    identity: { certificate: { cn: bi-tool-2 } }\n    database: ${database}\n    endUser: { token: { header: X-BI2-User-Token } }\n`);
  const loaded = load(bi('[customer_service, credit_assessment]'));
  t.same(loaded.issues, [], 'database only, no routes: loads');
  t.same(loaded.config?.clients.find((c) => c.id === 'bi-tool-2')?.database, ['customer_service', 'credit_assessment']);
  t.same(load(bi('collection')).config?.clients.find((c) => c.id === 'bi-tool-2')?.database, ['collection'], 'one purpose as a list of one');
  const wrong = load(bi('[customer_service, marketing_campaign]')).issues;
  t.equal(wrong.length, 1, wrong.map((i) => i.message).join(' | '));
  t.match(wrong[0]?.message, /purpose "marketing_campaign" is not a database purpose \(database\.purposes\)/);
  const noFrontEnd = load(bi('customer_service').replace(/\ndatabase:\n(?:(?: .*)?\n)*/, '\n')).issues;
  t.match(noFrontEnd.map((i) => i.message), [/there is no database front end/]);
  const neither = load(withClient('  - id: idle-app\n    identity: { certificate: { cn: idle-app } }\n')).issues;
  t.match(neither.map((i) => i.message), [/an application needs routes \(over HTTP\), database \(through the PostgreSQL front end\) or both/], 'neither routes nor database');
});

t.test('the impact of a change to an application', async (t) => {
  const before = load(demo).config;
  if (!before) throw new Error('the demo policy does not load');
  const impact = (text: string) => {
    const after = load(text).config;
    if (!after) throw new Error(`does not load: ${load(text).issues.map((i) => i.message).join('; ')}`);
    const report = policyImpact(before, after);
    return { text: formatImpact(report).join('\n'), revealing: report.revealing };
  };
  const withHeader = (roles: string) => demo.replace('      token: { header: X-Forwarded-Access-Token }\n', `      token: { header: X-Forwarded-Access-Token }\n      header: { name: X-Portal-User, roles: [${roles}] }\n`);
  const cs = impact(withHeader('cs_agent'));
  t.match(cs.text, /application cs-portal: names its users by header \(x-portal-user\) with roles cs_agent/);
  t.notOk(cs.revealing, 'vouching for agents reaches only masked views');
  const officer = impact(withHeader('credit_officer'));
  t.match(officer.text, /REVEALS\s+application cs-portal: names its users by header \(x-portal-user\) with roles credit_officer/);
  t.ok(officer.revealing, 'vouching for credit officers reaches a purpose that sees identities in clear');
  t.match(impact(demo.replace('      customers.loans: customer_service\n', '      customers.loans: customer_service\n      customers.list: customer_service\n')).text, /WIDENS\s+application cs-portal: serves customers.list: customer_service/);
  t.match(impact(demo.replace('    endUser:\n', '    endUser:\n      required: false\n')).text, /application cs-portal: may call without naming a user/);
  t.match(impact(demo.replace(/\nclients:\n[\s\S]*?\n\n(?=# The data dictionary)/, '\n')).text, /NARROWS\s+application cs-portal removed/);
  t.match(impact(withClient('  - id: scoring\n    identity: { certificate: { cn: scoring-job } }\n    routes: { customers.detail: risk_management }\n')).text, /WIDENS\s+application scoring trusted \(client certificate\): customers.detail: risk_management/);
  t.match(impact(demo.replace('      customers.loans: customer_service\n', '      customers.loans: customer_service\n    database: customer_service\n')).text, /WIDENS\s+application cs-portal: serves database front end: customer_service/);
});
