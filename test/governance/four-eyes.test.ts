import { request } from 'undici';
import t from 'tap';
import { waitFor } from '../helpers/wait.js';
import { startTestGateway, testKey } from '../helpers/gateway.js';
import { rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';
import { mint, testPurposes } from '../helpers/tokens.js';

const requesterToken = await mint(testKey, { sub: 'agent.wang', roles: ['cs_agent'] });
const otherAgentToken = await mint(testKey, { sub: 'agent.zhao', roles: ['cs_agent'] });
const approverToken = await mint(testKey, { sub: 'supervisor.chen', roles: ['approver'] });
const selfApproverToken = await mint(testKey, { sub: 'agent.wang', roles: ['cs_agent', 'approver'] });

const del = (path: string, token: string, approval?: string) =>
  [`DELETE ${path} HTTP/1.1`, 'Host: localhost', `Authorization: Bearer ${token}`, 'X-Purpose: customer_service', ...(approval ? [`X-Approval: ${approval}`] : []), 'Connection: close', '', ''].join('\r\n');

t.test('four-eyes: a destructive request needs a single-use approval by another person, and leaves a ledger entry', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  origin.handle((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"deleted":true}'));
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: [
      { id: 'documents.delete', method: 'DELETE', path: '/api/customers/:customerId/documents/:documentId', upstream: 'origin', purposes: ['customer_service'], destructive: true, subjects: [{ param: 'customerId' }] },
      { id: 'customer.erase', method: 'POST', path: '/api/customers/:customerId/erase', upstream: 'origin', purposes: ['customer_service'], destructive: true, subjects: [{ param: 'customerId' }] },
    ],
    classification: { fields: { deleted: { class: 'public' } } },
    purposes: testPurposes(),
  });
  const approve = async (body: Record<string, unknown>, token = approverToken) => {
    const res = await request(`${gw.adminUrl}/admin/approvals`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.statusCode, body: (await res.body.json()) as { id?: string } };
  };
  const path = '/api/customers/42/documents/d-1';
  const call = async (p: string, token: string, approval?: string) => {
    const res = await rawHttps(gw.port, del(p, token, approval), { ca: gw.ca });
    return res.status === 200 ? 'ok' : JSON.parse(res.body).error.code;
  };

  t.equal(await call(path, requesterToken), 'CUSTODIAN_APPROVAL_REQUIRED', 'without an approval');
  const self = await approve({ method: 'DELETE', path, requester: 'agent.wang' }, selfApproverToken);
  t.equal(self.status, 400, 'nobody approves their own request');
  t.equal((await approve({ method: 'DELETE', path, requester: 'agent.wang' }, requesterToken)).status, 403, 'approving needs the approver role');

  const granted = await approve({ method: 'DELETE', path, requester: 'agent.wang', ttlSeconds: 600, reason: 'customer request #88' });
  t.equal(granted.status, 201);
  const id = granted.body.id as string;
  t.equal(await call('/api/customers/42/documents/d-2', requesterToken, id), 'CUSTODIAN_APPROVAL_REQUIRED', 'another path');
  t.equal(await call(path, otherAgentToken, id), 'CUSTODIAN_APPROVAL_REQUIRED', 'someone else using it');
  t.equal(await call(path, requesterToken, 'not-an-approval'), 'CUSTODIAN_APPROVAL_REQUIRED', 'an unknown id');
  t.equal(origin.seen.length, 0, 'nothing deleted so far');
  t.equal(await call(path, requesterToken, id), 'ok', 'the right person, path and approval');
  t.equal(origin.seen.length, 1);
  t.equal(await call(path, requesterToken, id), 'CUSTODIAN_APPROVAL_REQUIRED', 'single use');
  t.equal(origin.seen.length, 1);

  const expiring = await approve({ method: 'DELETE', path: '/api/customers/42/documents/d-3', requester: 'agent.wang', ttlSeconds: 1 });
  await new Promise((r) => setTimeout(r, 1200));
  t.equal(await call('/api/customers/42/documents/d-3', requesterToken, expiring.body.id), 'CUSTODIAN_APPROVAL_REQUIRED', 'expired');
  t.equal(origin.seen.length, 1);

  // Bound to the body: the approval names the SHA-256 of the exact request body.
  const approvedBody = '{"scope":"documents","ticket":"CS-88"}';
  const { createHash } = await import('node:crypto');
  const bodyApproval = await approve({ method: 'POST', path: '/api/customers/42/erase', requester: 'agent.wang', bodySha256: createHash('sha256').update(approvedBody).digest('hex') });
  const post = (body: string) =>
    rawHttps(
      gw.port,
      ['POST /api/customers/42/erase HTTP/1.1', 'Host: localhost', `Authorization: Bearer ${requesterToken}`, 'X-Purpose: customer_service', `X-Approval: ${bodyApproval.body.id}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', '', body].join('\r\n'),
      { ca: gw.ca },
    );
  const other = await post('{"scope":"everything","ticket":"CS-88"}');
  t.equal(JSON.parse(other.body).error.code, 'CUSTODIAN_APPROVAL_REQUIRED', 'another body is not approved');
  t.equal(origin.seen.length, 1);
  const again = await approve({ method: 'POST', path: '/api/customers/42/erase', requester: 'agent.wang', bodySha256: createHash('sha256').update(approvedBody).digest('hex') });
  const exact = await rawHttps(
    gw.port,
    ['POST /api/customers/42/erase HTTP/1.1', 'Host: localhost', `Authorization: Bearer ${requesterToken}`, 'X-Purpose: customer_service', `X-Approval: ${again.body.id}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(approvedBody)}`, 'Connection: close', '', approvedBody].join('\r\n'),
    { ca: gw.ca },
  );
  t.equal(exact.status, 200, 'the approved body');
  t.equal(origin.seen.at(-1)?.body, approvedBody, 'exactly the checked bytes are forwarded');

  // The ledger entry is written once the response has gone: wait for it.
  const ledger = await waitFor(async () => {
    const r = await gw.db.query<{ requester: string; approver: string; object: string; outcome: string; status: number }>(
      'SELECT requester, approver, object, outcome, status FROM destruction_ledger WHERE approval_id = $1',
      [id],
    );
    return r.rows.length > 0 && r;
  }, 'the destruction ledger entry');
  t.match(ledger.rows, [{ requester: 'agent.wang', approver: 'supervisor.chen', object: '/api/customers/42/documents/d-1', outcome: 'executed', status: 200 }], 'the ledger entry');
});
