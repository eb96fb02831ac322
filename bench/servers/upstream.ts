import { createServer } from 'node:http';
import { customerJson } from '../fixtures.js';

/** Bench upstream: fixed 2 KB and 50 KB customer-record JSON on 127.0.0.1. */
const bodies: Record<string, Buffer> = {
  '/api/customers/small': Buffer.from(customerJson(2 * 1024)),
  '/api/customers/large': Buffer.from(customerJson(50 * 1024)),
};
const server = createServer((req, res) => {
  const body = bodies[(req.url ?? '').split('?')[0] ?? ''];
  if (!body) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
});
