import type { IncomingHttpHeaders } from 'node:http';
import { type DetectorHits, maskDetected } from '../mask/detectors.js';

/**
 * Which upstream response headers reach the client, decided per header (issue: identifiers in
 * Location, Link, Set-Cookie, Content-Disposition and custom X-* headers were released in clear):
 * - released as they are: framing, caching and content metadata that carries no customer value;
 * - released after the detectors: headers that can carry one (a redirect to /customers/<ID>, a
 *   file name, a cookie) — masked in place, or dropped when a value is still found once decoded;
 * - everything else dropped. A route can name more headers in either list.
 */
export const RELEASED_AS_IS: readonly string[] = [
  'accept-ranges',
  'age',
  'allow',
  'cache-control',
  'content-language',
  'content-length',
  'content-encoding',
  'content-range',
  'content-type',
  'date',
  'etag',
  'expires',
  'last-modified',
  'pragma',
  'retry-after',
  'vary',
  'www-authenticate',
];
export const RELEASED_AFTER_DETECTORS: readonly string[] = [
  'content-disposition',
  'content-location',
  'link',
  'location',
  'refresh',
  'set-cookie',
];

export interface ResponseHeaderPolicy {
  readonly release: ReadonlySet<string>;
  readonly scan: ReadonlySet<string>;
}

/** The defaults plus a route's additions (names compared lower-case). */
export function compileResponseHeaderPolicy(extra: { release?: readonly string[]; scan?: readonly string[] } = {}): ResponseHeaderPolicy {
  const lower = (names: readonly string[] = []) => names.map((n) => n.toLowerCase());
  const scan = new Set([...RELEASED_AFTER_DETECTORS, ...lower(extra.scan)]);
  const release = new Set([...RELEASED_AS_IS, ...lower(extra.release)].filter((n) => !scan.has(n)));
  return Object.freeze({ release, scan });
}

function percentDecoded(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * One header value through the detectors: identifiers masked in place. A value that still holds
 * one once percent-decoded (an encoded ID number in a redirect) cannot be masked in its encoded
 * form and is dropped (undefined).
 */
export function scannedHeaderValue(value: string, hits: DetectorHits): string | undefined {
  const masked = maskDetected(value, hits);
  const decoded = percentDecoded(masked);
  if (decoded !== masked && maskDetected(decoded, hits) !== decoded) return undefined;
  return masked;
}

/** The headers a client may see; `hits` counts what the detectors masked. */
export function releasedResponseHeaders(headers: IncomingHttpHeaders, policy: ResponseHeaderPolicy, hits: DetectorHits): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (policy.release.has(name)) {
      out[name] = value;
      continue;
    }
    if (!policy.scan.has(name)) continue;
    if (Array.isArray(value)) {
      const kept = value.map((v) => scannedHeaderValue(v, hits)).filter((v): v is string => v !== undefined);
      if (kept.length > 0) out[name] = kept;
    } else {
      const kept = scannedHeaderValue(value, hits);
      if (kept !== undefined) out[name] = kept;
    }
  }
  return out;
}
