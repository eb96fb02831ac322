/**
 * Request-target checks done before any route is matched. A gateway that normalises paths
 * differently from the upstream can be bypassed (e.g. `/api/public/..%2fcustomers` matching a
 * public rule but reaching a protected handler), so instead of normalising we refuse every path
 * whose meaning could differ between two parsers. What passes is forwarded byte for byte.
 */

export interface RequestTarget {
  /** The raw path, exactly as it will be forwarded. */
  readonly rawPath: string;
  /** The raw query string without the `?`, or '' */
  readonly rawQuery: string;
  /** Percent-decoded path segments (no empty segments except a trailing slash). */
  readonly segments: readonly string[];
}

export type TargetRejection =
  | 'too_long'
  | 'not_origin_form'
  | 'forbidden_character'
  | 'control_byte'
  | 'bad_percent_encoding'
  | 'encoded_separator'
  | 'double_encoding'
  | 'dot_segment'
  | 'empty_segment'
  | 'backslash'
  | 'parameter_segment';

// RFC 3986 characters allowed raw in a path or query (pchar, plus `/` `?`; `\\` so we can name it).
// Anything else (controls, space, quotes, `<>{}|^\``, non-ASCII) is re-encoded differently by
// different URL parsers, so it is refused rather than guessed at.
const RAW_ALLOWED = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/?\\]*$/;
// After decoding one level, these would change the structure or meaning of the path.
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control bytes is the point
const DECODED_FORBIDDEN = /[\u0000-\u001f\u007f/\\]/;

export function parseRequestTarget(
  rawUrl: string,
  maxLength: number,
): { ok: true; target: RequestTarget } | { ok: false; reason: TargetRejection } {
  if (rawUrl.length > maxLength) return { ok: false, reason: 'too_long' };
  if (!rawUrl.startsWith('/')) return { ok: false, reason: 'not_origin_form' };
  if (!RAW_ALLOWED.test(rawUrl)) return { ok: false, reason: 'forbidden_character' };

  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const rawQuery = q === -1 ? '' : rawUrl.slice(q + 1);

  if (rawPath.includes('\\')) return { ok: false, reason: 'backslash' };
  // Matrix parameters (`;jsessionid=`) are stripped by some servers and not others.
  if (rawPath.includes(';')) return { ok: false, reason: 'parameter_segment' };
  if (!validPercentEncoding(rawPath) || !validPercentEncoding(rawQuery)) {
    return { ok: false, reason: 'bad_percent_encoding' };
  }
  if (/%25/i.test(rawPath)) return { ok: false, reason: 'double_encoding' };
  if (/%(00|0[1-9a-f]|1[0-9a-f]|7f)/i.test(rawQuery)) return { ok: false, reason: 'control_byte' };

  const parts = rawPath.split('/').slice(1);
  const segments: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (part === '') {
      // Only a single trailing slash is unambiguous; `//` is collapsed by some servers.
      if (i === parts.length - 1 && i > 0) break;
      if (parts.length === 1) break; // the root path "/"
      return { ok: false, reason: 'empty_segment' };
    }
    const decoded = decodeURIComponent(part);
    if (DECODED_FORBIDDEN.test(decoded)) {
      return { ok: false, reason: decoded.includes('/') || decoded.includes('\\') ? 'encoded_separator' : 'control_byte' };
    }
    if (decoded === '.' || decoded === '..') return { ok: false, reason: 'dot_segment' };
    segments.push(decoded);
  }
  return { ok: true, target: { rawPath, rawQuery, segments } };
}

function validPercentEncoding(s: string): boolean {
  for (let i = s.indexOf('%'); i !== -1; i = s.indexOf('%', i + 1)) {
    if (!/^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) return false;
  }
  // Reject encodings that do not decode to valid UTF-8.
  try {
    decodeURIComponent(s.replaceAll('+', ' '));
    return true;
  } catch {
    return false;
  }
}
