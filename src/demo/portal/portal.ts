/**
 * A customer-service portal backend, standing in for an application a lending company already
 * runs. It knows nothing of Custodian: it authenticates itself to the loan API with an OAuth2
 * client-credentials token from the company's identity provider, passes on the agent's own access
 * token (X-Forwarded-Access-Token, as an SSO proxy hands it over) so the loan API can tell who is
 * asking, and reads two loan-API endpoints for each page. The only thing the demo changes is
 * LOAN_API_URL: it points at the gateway instead of the loan API. Node's built-ins only, so
 * nothing here can lean on the gateway's code.
 *
 * Environment: PORT, LOAN_API_URL, TOKEN_URL, CLIENT_ID, CLIENT_SECRET (and, as for any Node
 * program whose servers use a private CA, NODE_EXTRA_CA_CERTS).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

function setting(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`portal: ${name} is not set\n`);
    process.exit(2);
  }
  return value;
}

const loanApiUrl = setting('LOAN_API_URL').replace(/\/$/, '');
const tokenUrl = setting('TOKEN_URL');
const clientId = setting('CLIENT_ID');
const clientSecret = setting('CLIENT_SECRET');

let serviceToken: { value: string; renewAt: number } | undefined;

/** The portal's own token (client credentials), renewed a minute before it expires. */
async function portalToken(): Promise<string> {
  if (serviceToken && Date.now() < serviceToken.renewAt) return serviceToken.value;
  const response = await fetch(tokenUrl, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
  const body = (await response.json()) as { access_token: string; expires_in: number };
  serviceToken = { value: body.access_token, renewAt: Date.now() + (body.expires_in - 60) * 1000 };
  return body.access_token;
}

async function loanApi(path: string, agentToken: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${loanApiUrl}${path}`, {
    headers: { authorization: `Bearer ${await portalToken()}`, 'x-forwarded-access-token': agentToken, accept: 'application/json' },
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** GET /portal/customers/:id — what the agent's screen shows: the customer and their loans. */
async function customerPage(req: IncomingMessage, res: ServerResponse, id: string) {
  const agentToken = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (!agentToken) return send(res, 401, { error: 'sign in to the portal' });
  const [profile, loans] = await Promise.all([loanApi(`/api/customers/${id}`, agentToken), loanApi(`/api/customers/${id}/loans`, agentToken)]);
  if (profile.status !== 200) return send(res, profile.status, { error: 'the loan API refused', loanApi: profile.body });
  const items = loans.status === 200 ? (loans.body as { items: unknown[] }).items : [];
  send(res, 200, { customer: profile.body, loans: items, screen: 'customer-service/customer' });
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://portal');
  const page = /^\/portal\/customers\/(\d{1,9})$/.exec(url.pathname);
  if (req.method === 'GET' && page) {
    customerPage(req, res, page[1] as string).catch(() => send(res, 502, { error: 'the loan API could not be reached' }));
  } else if (req.method === 'GET' && url.pathname === '/healthz') {
    send(res, 200, { ok: true });
  } else {
    send(res, 404, { error: 'not found' });
  }
});

server.listen(Number(process.env.PORT ?? 9703), process.env.HOST ?? '127.0.0.1', () => {
  // The one line whoever started the portal waits for.
  process.stdout.write(`portal listening on ${(server.address() as AddressInfo).port}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
