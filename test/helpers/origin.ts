import { createServer as createHttp, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export type OriginHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

export interface Origin {
  readonly url: string;
  readonly port: number;
  /** Every request that reached the origin; refusal tests assert this does not grow. */
  readonly seen: SeenRequest[];
  handle(handler: OriginHandler): void;
  close(): Promise<void>;
}

const jsonEcho: OriginHandler = (req, res) => {
  const body = JSON.stringify({ ok: true, method: req.method, url: req.url });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

/** A real origin server on 127.0.0.1:0 that counts and records what reaches it. */
export async function startOrigin(tls?: { cert: string; key: string }): Promise<Origin> {
  const seen: SeenRequest[] = [];
  let handler: OriginHandler = jsonEcho;
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  };
  const server = tls ? createHttps({ cert: tls.cert, key: tls.key }, listener) : createHttp(listener);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    seen,
    handle(h) {
      handler = h;
    },
    close() {
      server.closeAllConnections();
      return new Promise((ok) => server.close(() => ok()));
    },
  };
}
