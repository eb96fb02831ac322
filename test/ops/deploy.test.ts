import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import t from 'tap';
import { requireTool } from '../helpers/tools.js';
import { parse, parseAllDocuments } from 'yaml';
import { basicRoutes, startTestGateway } from '../helpers/gateway.js';
import { startOrigin } from '../helpers/origin.js';

// Metrics written by `custodian audit verify --prom-file` (textfile collector), not the gateway.
const EXTERNAL = new Set(['custodian_audit_verify_failed']);

function metricNames(text: string): Set<string> {
  return new Set([...text.matchAll(/\b(custodian_[a-z0-9_]+?)(?:_bucket|_count|_sum)?\b(?=[{\s)/*\-+<>=,]|$)/g)].map((m) => m[1] as string));
}

t.test('alert rules and the dashboard only use metrics the gateway exposes', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes: basicRoutes() });
  const exposition = await (await request(`${gw.adminUrl}/metrics`)).body.text();
  const exposed = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
  const rules = readFileSync('deploy/prometheus/custodian-alerts.yaml', 'utf8');
  const dashboard = readFileSync('deploy/grafana/custodian-dashboard.json', 'utf8');
  JSON.parse(dashboard);
  for (const [name, text] of [['alert rules', rules], ['dashboard', dashboard]] as const) {
    const used = metricNames(text);
    t.ok(used.size > 5, `${name} use ${used.size} metrics`);
    const unknown = [...used].filter((m) => !exposed.has(m) && !EXTERNAL.has(m));
    t.same(unknown, [], `${name}: every metric exists`);
  }
  for (const alert of ['RefusalSpike', 'JournalDiskLow', 'AuditSpoolGrowing', 'AuditShipLag', 'PolicyReloadFailed', 'ChainVerificationFailed', 'PurposeReviewExpiring']) t.match(rules, `alert: Custodian${alert}`);
  if (requireTool(t, 'promtool')) {
    try {
      execFileSync('promtool', ['check', 'rules', 'deploy/prometheus/custodian-alerts.yaml'], { stdio: 'pipe' });
      t.pass('promtool check rules');
    } catch (err) {
      t.fail(`promtool check rules: ${(err as { stdout?: Buffer }).stdout?.toString()}`);
    }
  }
});

t.test('the Kubernetes manifests hold every object the deployment needs', async (t) => {
  const docs = parseAllDocuments(readFileSync('deploy/kubernetes/custodian.yaml', 'utf8')).map((d) => d.toJS());
  const kinds = docs.map((d) => d.kind).sort();
  t.same(kinds, ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service', 'Service'].sort());
  const deployment = docs.find((d) => d.kind === 'Deployment');
  const container = deployment.spec.template.spec.containers[0];
  t.match(container.readinessProbe, { httpGet: { path: '/readyz', port: 'admin', scheme: 'HTTPS' } });
  t.match(container.livenessProbe, { httpGet: { path: '/healthz', port: 'admin', scheme: 'HTTPS' } });
  // The policy binds the admin plane beyond loopback, which the gateway allows only over TLS.
  const policy = parse(docs.find((d) => d.kind === 'ConfigMap').data['custodian.yaml']);
  t.equal(policy.listen.admin.host, '0.0.0.0');
  t.ok(policy.admin?.tls, 'admin.tls is set');
  t.ok(policy.policy?.trustAnchors, 'the production example signs its policy');
  t.equal(policy.policy?.fourEyes, true, 'revealing changes need two officers');
  t.equal(policy.policy?.requireSignature, undefined, 'signing is not switched off');
  t.ok(policy.policyTests?.length > 0, 'the policy names its tests');
  t.equal(deployment.spec.template.metadata.annotations['prometheus.io/scheme'], 'https');
  t.equal(deployment.spec.template.spec.securityContext.runAsNonRoot, true);
  t.match(container.env, [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'custodian-database' } } }], 'secrets by reference');
});
