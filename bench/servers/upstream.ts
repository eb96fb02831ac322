import { createServer } from 'node:http';
import { customerJson } from '../fixtures.js';

/** Bench upstream: fixed 2 KB and 50 KB customer-record JSON, and a 2 KB document, on 127.0.0.1. */
const bodies: Record<string, Buffer> = {
  '/api/customers/small': Buffer.from(customerJson(2 * 1024)),
  '/api/customers/large': Buffer.from(customerJson(50 * 1024)),
  // A document, not JSON: what a pass-through route releases unmasked.
  '/api/documents/small': Buffer.from('%PDF-1.7\n'.padEnd(2 * 1024, '.')),
};
const server = createServer((req, res) => {
  const body = bodies[(req.url ?? '').split('?')[0] ?? ''];
  if (!body) {
    res.writeHead(404).end();
    return;
  }
  const type = req.url?.startsWith('/api/documents/') ? 'application/pdf' : 'application/json';
  res.writeHead(200, { 'content-type': type, 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
});
