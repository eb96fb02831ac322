import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface AdminCliArgs {
  readonly action: string | undefined;
  readonly target: string | undefined;
  readonly adminUrl: string;
  readonly token: string | undefined;
  readonly options: Readonly<Record<string, string | boolean | string[] | undefined>>;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** What to call on the admin API for one CLI action. */
function requestFor(a: AdminCliArgs): { method: 'GET' | 'POST'; path: string; body?: unknown } | string {
  const o = a.options;
  switch (a.action) {
    case 'restrict':
      return {
        method: 'POST',
        path: '/admin/restrictions',
        body: {
          customerId: str(o.customer),
          kind: str(o.kind) ?? 'restriction',
          purposes: str(o.purposes)?.split(',').filter(Boolean) ?? [],
          ticket: str(o.ticket),
          dueInDays: str(o['due-days']) ? Number(o['due-days']) : undefined,
        },
      };
    case 'answer':
      return { method: 'POST', path: `/admin/restrictions/${encodeURIComponent(str(o.id) ?? '')}/answer`, body: { reply: str(o.reply) } };
    case 'lift':
      return { method: 'POST', path: `/admin/restrictions/${encodeURIComponent(str(o.id) ?? '')}/lift`, body: {} };
    case 'consent':
      return {
        method: 'POST',
        path: '/admin/consents',
        body: {
          customerId: str(o.customer),
          recipient: str(o.recipient),
          purpose: str(o.purpose),
          fields: str(o.fields)?.split(',').filter(Boolean) ?? [],
          expiresAt: str(o.expires),
          evidence: str(o.evidence),
        },
      };
    case 'withdraw':
      return { method: 'POST', path: `/admin/consents/${encodeURIComponent(str(o.id) ?? '')}/withdraw`, body: {} };
    case 'approve': {
      const bodyFile = str(o['body-file']);
      return {
        method: 'POST',
        path: '/admin/approvals',
        body: {
          method: str(o.method),
          path: str(o.path),
          requester: str(o.requester),
          ttlSeconds: str(o.ttl) ? Number(o.ttl) : undefined,
          reason: str(o.reason),
          bodySha256: bodyFile ? createHash('sha256').update(readFileSync(bodyFile)).digest('hex') : undefined,
        },
      };
    }
    case 'list': {
      const what = a.target;
      const lists: Record<string, { path: string; byCustomer: boolean }> = {
        restrictions: { path: '/admin/restrictions', byCustomer: true },
        consents: { path: '/admin/consents', byCustomer: true },
        partners: { path: '/admin/partners', byCustomer: false },
        approvals: { path: '/admin/approvals', byCustomer: false },
        destructions: { path: '/admin/destructions', byCustomer: false },
        versions: { path: '/admin/policy/versions', byCustomer: false },
      };
      const list = what ? lists[what] : undefined;
      if (!list) return `list ${Object.keys(lists).join('|')}`;
      const customer = str(o.customer);
      return { method: 'GET', path: `${list.path}${customer && list.byCustomer ? `?customerId=${encodeURIComponent(customer)}` : ''}` };
    }
    case 'history':
      return { method: 'GET', path: `/audit/subjects/${encodeURIComponent(a.target ?? '')}` };
    default:
      return 'admin restrict|answer|lift|consent|withdraw|approve|list|history …';
  }
}

/**
 * `custodian admin …`: the officer's and approver's admin-API actions for scripts. The token
 * comes from --token or CUSTODIAN_ADMIN_TOKEN (never echoed); the answer is printed as JSON.
 */
export async function runAdmin(a: AdminCliArgs, out: (line: string) => void = console.log): Promise<number> {
  const spec = requestFor(a);
  if (typeof spec === 'string') {
    out(`usage: custodian ${spec}`);
    return 2;
  }
  const token = a.token ?? process.env.CUSTODIAN_ADMIN_TOKEN;
  if (!token) {
    out('an admin token is needed: --token or CUSTODIAN_ADMIN_TOKEN');
    return 2;
  }
  const res = await fetch(`${a.adminUrl.replace(/\/$/, '')}${spec.path}`, {
    method: spec.method,
    headers: { authorization: `Bearer ${token}`, ...(spec.body ? { 'content-type': 'application/json' } : {}) },
    body: spec.body ? JSON.stringify(spec.body) : undefined,
  });
  const text = await res.text();
  let shown = text;
  try {
    shown = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // not JSON: print as is
  }
  out(shown);
  return res.ok ? 0 : 1;
}
