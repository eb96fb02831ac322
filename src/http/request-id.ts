import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

// An inbound id is kept only when it cannot smuggle anything into logs or headers.
const WELL_FORMED = /^[A-Za-z0-9._:-]{8,128}$/;

export const REQUEST_ID_HEADER = 'x-request-id';

/** fastify genReqId: keep a well-formed inbound X-Request-Id, otherwise make a new one. */
export function requestIdFor(req: IncomingMessage): string {
  const inbound = req.headers[REQUEST_ID_HEADER];
  if (typeof inbound === 'string' && WELL_FORMED.test(inbound)) return inbound;
  return randomUUID();
}
