import { createServer, type Server } from 'node:http';
import { errorBody } from '../errors.js';
import { requestIdFor } from './request-id.js';

/**
 * The optional plaintext listener. It exists only so that a client that forgot TLS gets a clear
 * answer: every request is refused with a fixed JSON body. No data, no redirect (a redirect
 * would echo the path and teach clients to send customer ids in clear first).
 */
export function createPlaintextRefusal(maxHeaderBytes: number): Server {
  return createServer({ maxHeaderSize: maxHeaderBytes }, (req, res) => {
    const requestId = requestIdFor(req);
    const body = JSON.stringify(errorBody('CUSTODIAN_TLS_REQUIRED', requestId));
    res.writeHead(403, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-request-id': requestId,
      'cache-control': 'no-store',
      connection: 'close',
    });
    res.end(body);
    // Do not read the request body: whatever the client sent in clear is not processed.
    req.socket.unref();
  });
}
