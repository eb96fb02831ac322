import type { IncomingHttpHeaders } from 'node:http';

// RFC 9110 §7.6.1 connection-specific fields, plus the historical ones proxies must not forward.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  // Not hop-by-hop, but met here: Node's server has already answered `100-continue` by the time
  // the body is forwarded (and undici refuses to send an Expect of its own).
  'expect',
]);

const NONE_LISTED: ReadonlySet<string> = new Set();

/** The field names a Connection header lists (each is dropped with it). */
function connectionListed(value: string | string[] | undefined): ReadonlySet<string> {
  // Nearly every request and response says only keep-alive or close, both hop-by-hop anyway.
  if (value === undefined || value === 'keep-alive' || value === 'close') return NONE_LISTED;
  const names = new Set<string>();
  const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
  for (const v of values) for (const n of v.split(',')) if (n.trim()) names.add(n.trim().toLowerCase());
  return names;
}

export interface ForwardingIdentity {
  readonly requestId: string;
  /** Headers the gateway itself asserts towards the upstream (X-Custodian-*). */
  readonly asserted: Readonly<Record<string, string>>;
  readonly forwardAuthorization: boolean;
  /** Headers that carry users' tokens forwarded by applications: credentials, kept like Authorization. */
  readonly credentialHeaders?: readonly string[];
}

/**
 * Headers sent to the upstream: the client's, minus hop-by-hop fields, fields the client named
 * in Connection, any client-supplied X-Custodian-* (only the gateway may assert those), and
 * Authorization (and forwarded user tokens) unless the upstream is configured to receive them;
 * plus the gateway's assertions.
 */
export function upstreamRequestHeaders(
  original: IncomingHttpHeaders,
  host: string | undefined,
  identity: ForwardingIdentity,
): IncomingHttpHeaders {
  const listed = connectionListed(original.connection);
  const out: IncomingHttpHeaders = Object.create(null);
  for (const [name, value] of Object.entries(original)) {
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || listed.has(name) || name.startsWith('x-custodian-')) continue;
    if ((name === 'authorization' || identity.credentialHeaders?.includes(name)) && !identity.forwardAuthorization) continue;
    (out as Record<string, string | string[]>)[name] = value;
  }
  if (host !== undefined) out.host = host;
  // Ask for an uncompressed body: the gateway must read it to mask it.
  out['accept-encoding'] = 'identity';
  out['x-custodian-request-id'] = identity.requestId;
  for (const [name, value] of Object.entries(identity.asserted)) out[name] = value;
  return out;
}

/** Response headers from the upstream, minus hop-by-hop fields and those named in Connection. */
export function clientResponseHeaders(upstream: IncomingHttpHeaders): IncomingHttpHeaders {
  const listed = connectionListed(upstream.connection);
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (HOP_BY_HOP.has(name) || listed.has(name)) continue;
    out[name] = value;
  }
  return out;
}
