import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CustodianError, type ErrorCode, errorBody, statusOf } from '../errors.js';

/** Send a refusal with its stable code. The message comes from the catalogue, never from input. */
export function sendError(reply: FastifyReply, code: ErrorCode, detail?: string): FastifyReply {
  const extra = code.startsWith('CUSTODIAN_AUTH_') ? { 'www-authenticate': 'Bearer error="invalid_token"' } : {};
  if (code === 'CUSTODIAN_AUTH_MISSING') extra['www-authenticate'] = 'Bearer';
  // The audit stage records refusals with their code.
  if (reply.request.custodian) reply.request.custodian.refusal = code;
  return reply
    .code(statusOf(code))
    .headers(extra)
    .type('application/json; charset=utf-8')
    .send(errorBody(code, reply.request.id, detail));
}

/** Map fastify's own errors (body limits, parse failures) to catalogue codes. */
function codeForFastifyError(err: FastifyError): ErrorCode {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'CUSTODIAN_BODY_TOO_LARGE';
    case 'FST_ERR_BAD_URL':
      return 'CUSTODIAN_PATH_INVALID';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'CUSTODIAN_BAD_REQUEST';
    default:
      return 'CUSTODIAN_INTERNAL';
  }
}

/** fastify setErrorHandler: every thrown error becomes a catalogue refusal; the cause goes to the log only. */
export function handleError(err: FastifyError | CustodianError, request: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof CustodianError) {
    request.log.info({ code: err.code }, 'request refused');
    sendError(reply, err.code, err.detail);
    return;
  }
  const code = codeForFastifyError(err);
  if (code === 'CUSTODIAN_INTERNAL') request.log.error({ err }, 'unexpected error');
  else request.log.info({ code, fastifyCode: err.code }, 'request refused');
  sendError(reply, code);
}

/**
 * Errors the HTTP parser raises before fastify sees a request (oversized headers, malformed
 * request lines). The answer is a fixed JSON refusal; nothing from the request is echoed.
 */
export function handleClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'CUSTODIAN_HEADERS_TOO_LARGE' : 'CUSTODIAN_BAD_REQUEST';
  const body = JSON.stringify(errorBody(code, 'none'));
  const status = statusOf(code);
  socket.end(
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `connection: close\r\n\r\n${body}`,
  );
}

/**
 * Inside onSend, replace a response that must not be released (its record is not durable, its
 * customers could not be counted): the upstream's body is dropped, its headers removed, and a
 * refusal body returned in its place.
 */
export function withheldPayload(reply: FastifyReply, payload: unknown, code: ErrorCode): string {
  if (payload && typeof (payload as { destroy?: () => void }).destroy === 'function') (payload as { destroy(): void }).destroy();
  const state = reply.request.custodian;
  if (state) state.refusal = code;
  for (const name of Object.keys(reply.getHeaders())) if (name !== 'x-request-id' && name !== 'strict-transport-security') reply.removeHeader(name);
  reply.code(statusOf(code)).type('application/json; charset=utf-8');
  return JSON.stringify(errorBody(code, reply.request.id));
}
