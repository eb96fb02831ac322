import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import t from 'tap';
import { requireTool } from '../helpers/tools.js';
import { basicRoutes, staffHeaders, startTestGateway } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';

t.test('the admin plane exposes metrics after traffic, with bounded labels only', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  origin.handle((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":1,"mobile":"13812345678","remarks":"备用13912345678"}'));
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: basicRoutes(),
    classification: { fields: { id: { class: 'public' }, mobile: { class: 'C2', operator: { mask: 'mobile' } }, remarks: { class: 'C1' } } },
  });
  const auth = await staffHeaders();
  for (let i = 0; i < 3; i++) await rawHttps(gw.port, get(`/api/customers/11010119900307123${i}`, auth), { ca: gw.ca });
  await rawHttps(gw.port, get('/api/customers/1', [auth[0] as string]), { ca: gw.ca });
  await rawHttps(gw.port, get('/unknown/13812345678'), { ca: gw.ca });
  const res = await request(`${gw.adminUrl}/metrics`);
  t.equal(res.statusCode, 200);
  const text = await res.body.text();
  t.match(text, /custodian_requests_total\{route="customers.detail",purpose="credit_assessment",decision="allow",status_class="2xx"\} 3/);
  t.match(text, /custodian_refusals_total\{code="CUSTODIAN_PURPOSE_MISSING"\} 1/);
  t.match(text, /custodian_refusals_total\{code="CUSTODIAN_AUTH_MISSING"\} 1/);
  t.match(text, /custodian_fields_total\{class="C2",action="masked"\} 3/);
  t.match(text, /custodian_detector_hits_total\{type="mobile"\} 3/);
  t.match(text, /custodian_request_duration_seconds_bucket/);
  t.match(text, /custodian_upstream_duration_seconds_count\{route="customers.detail"\} 3/);
  t.match(text, /custodian_audit_durability_seconds_count [1-9]/);
  t.match(text, /custodian_audit_spool_bytes \d+/);
  t.match(text, /custodian_audit_ship_lag_records \d+/);
  t.match(text, /custodian_token_cache_hit_ratio 0\.\d+/);
  t.match(text, /custodian_policy_info\{version="[0-9a-f]{12}"\} 1/);
  t.match(text, /custodian_observe_mode_routes 0/);
  t.match(text, /custodian_process_cpu_seconds_total/, 'default process metrics');
  t.notMatch(text, /110101|13812345678|u-credit|\/api\/customers\/|\/unknown/, 'no path, subject, caller or value in any label');

  if (requireTool(t, 'promtool')) {
    const file = join(gw.dir, 'metrics.txt');
    writeFileSync(file, text);
    const out = execFileSync('sh', ['-c', `promtool check metrics < ${file} 2>&1 || true`]).toString();
    t.equal(out.trim(), '', `promtool check metrics is clean${out ? `: ${out}` : ''}`);
  }
});
