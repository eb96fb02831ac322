import { request } from 'undici';
import t from 'tap';
import { journalRecords } from '../helpers/child-gateway.js';
import { startTestGateway, testKey } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';
import { mint, testPurposes } from '../helpers/tokens.js';

/**
 * One decision, one record: each request leaves exactly one decision record, and it states what
 * was actually decided — the approval a destructive request consumed, the purpose a refused
 * caller declared. (Regressions: the decision was recorded before four-eyes consumed the approval,
 * so a refused DELETE left an `allow` decision and the approval was never in it; refusals dropped
 * the declared purpose.)
 */
t.test('the decision record states the approval consumed, the refusal, and the purpose declared', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: [
      { id: 'documents.delete', method: 'DELETE', path: '/api/customers/:customerId/documents/:documentId', upstream: 'origin', purposes: ['customer_service'], destructive: true, subjects: [{ param: 'customerId' }] },
      { id: 'detail', method: 'GET', path: '/api/customers/:customerId', upstream: 'origin', purposes: ['credit_assessment', 'customer_service'], subjects: [{ param: 'customerId' }] },
    ],
    classification: { fields: { ok: { class: 'public' }, method: { class: 'public' }, url: { class: 'public' } } },
    purposes: testPurposes(),
  });
  const agent = await mint(testKey, { sub: 'agent.wang', roles: ['cs_agent'] });
  const approver = await mint(testKey, { sub: 'supervisor.chen', roles: ['approver'] });
  const del = (path: string, approval: string) =>
    [`DELETE ${path} HTTP/1.1`, 'Host: localhost', `Authorization: Bearer ${agent}`, 'X-Purpose: customer_service', `X-Approval: ${approval}`, 'Connection: close', '', ''].join('\r\n');
  const path = '/api/customers/42/documents/d-1';
  const granted = await request(`${gw.adminUrl}/admin/approvals`, {
    method: 'POST',
    headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json' },
    body: JSON.stringify({ method: 'DELETE', path, requester: 'agent.wang', ttlSeconds: 600 }),
  });
  const approvalId = ((await granted.body.json()) as { id: string }).id;

  const approved = await rawHttps(gw.port, del(path, approvalId), { ca: gw.ca });
  t.equal(approved.status, 200);
  const reused = await rawHttps(gw.port, del(path, approvalId), { ca: gw.ca });
  t.equal(reused.status, 403, 'an approval is single use');
  const wrongPurpose = await rawHttps(gw.port, get('/api/customers/7', [`Authorization: Bearer ${agent}`, 'X-Purpose: credit_assessment']), { ca: gw.ca });
  t.equal(wrongPurpose.status, 403);
  const badPurpose = await rawHttps(gw.port, get('/api/customers/7', [`Authorization: Bearer ${agent}`, `X-Purpose: ${'x'.repeat(300)}`]), { ca: gw.ca });
  t.equal(badPurpose.status, 403);

  await gw.audit.flush();
  const records = await journalRecords(`${gw.dir}/var/audit`);
  const decisions = (response: { headers: Record<string, string> }) =>
    records.filter((r) => r.record.type === 'decision' && r.record.requestId === response.headers['x-request-id']).map((r) => r.record);

  const [allow, ...others] = decisions(approved);
  t.same(others, [], 'one decision record for the approved DELETE');
  t.match(allow, { decision: 'allow', detail: { approval: approvalId, approver: 'supervisor.chen' } }, 'it carries the approval consumed');
  t.match(decisions(reused), [{ decision: 'deny', reason: 'CUSTODIAN_APPROVAL_REQUIRED', purpose: 'customer_service' }], 'a refused DELETE leaves a single deny');
  t.match(decisions(wrongPurpose), [{ decision: 'deny', reason: 'CUSTODIAN_PURPOSE_NOT_ALLOWED', purpose: 'credit_assessment', subjects: { ids: ['7'] } }], 'the refusal records the purpose declared and the customer asked for');
  const [bad] = decisions(badPurpose);
  t.equal(bad?.purpose, undefined, 'a malformed purpose header is not copied into the record');
});
