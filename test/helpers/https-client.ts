import { connect } from 'node:tls';

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** The response ended before its declared length (connection cut mid-body). */
  readonly truncated: boolean;
}

export interface ClientOptions {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

/**
 * Send bytes exactly as written over TLS and read one response. Hostile paths must reach the
 * gateway unaltered, which a normal HTTP client (that normalises URLs) cannot promise.
 */
export function rawHttps(port: number, request: string, options: ClientOptions): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: options.ca, cert: options.cert, key: options.key });
    const chunks: Buffer[] = [];
    socket.on('secureConnect', () => socket.write(request));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => (chunks.length > 0 ? finish() : reject(err)));
    socket.on('end', finish);
    socket.on('close', finish);
    socket.setTimeout(20_000, () => socket.destroy(new Error('raw request timed out')));
    let done = false;
    function finish() {
      if (done) return;
      done = true;
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      if (split === -1) return reject(new Error(`no HTTP response (got ${text.length} bytes)`));
      const [statusLine, ...headerLines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      let body = text.slice(split + 4);
      let truncated = false;
      if (headers['transfer-encoding'] === 'chunked') {
        const decoded = decodeChunked(body);
        body = decoded.body;
        truncated = !decoded.complete;
      } else if (headers['content-length'] !== undefined) {
        truncated = Buffer.byteLength(body) < Number(headers['content-length']);
      }
      resolve({ status: Number(statusLine?.split(' ')[1]), headers, body, truncated });
    }
  });
}

function decodeChunked(raw: string): { body: string; complete: boolean } {
  let rest = Buffer.from(raw, 'utf8');
  const parts: Buffer[] = [];
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    if (lineEnd === -1) return { body: Buffer.concat(parts).toString('utf8'), complete: false };
    const size = Number.parseInt(rest.subarray(0, lineEnd).toString(), 16);
    if (Number.isNaN(size)) return { body: Buffer.concat(parts).toString('utf8'), complete: false };
    if (size === 0) return { body: Buffer.concat(parts).toString('utf8'), complete: true };
    const chunk = rest.subarray(lineEnd + 2, lineEnd + 2 + size);
    parts.push(chunk);
    if (chunk.length < size) return { body: Buffer.concat(parts).toString('utf8'), complete: false };
    rest = rest.subarray(lineEnd + 2 + size + 2);
  }
}

/** A well-formed GET with optional extra header lines. */
export function get(path: string, extraHeaders: readonly string[] = []): string {
  return [`GET ${path} HTTP/1.1`, 'Host: localhost', ...extraHeaders, 'Connection: close', '', ''].join('\r\n');
}
