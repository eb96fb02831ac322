import type { Agent } from 'undici';
import fastifyHttpProxy, { type FastifyHttpProxyOptions } from '@fastify/http-proxy';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ErrorCode } from '../errors.js';
import { clientResponseHeaders, upstreamRequestHeaders } from '../upstream/headers.js';
import { sendError } from './errors.js';

const ALL_METHODS = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'];

// Certificate verification failures reported by Node's TLS layer.
const TLS_FAILURES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ALTNAME/;

function codeForUpstreamFailure(error: unknown): ErrorCode {
  const outer = error as { code?: string; cause?: { code?: string } };
  const code = outer.cause?.code ?? outer.code ?? '';
  if (TLS_FAILURES.test(code)) return 'CUSTODIAN_UPSTREAM_TLS';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return 'CUSTODIAN_UPSTREAM_TIMEOUT';
  }
  if (outer.code === 'FST_REPLY_FROM_GATEWAY_TIMEOUT') return 'CUSTODIAN_UPSTREAM_TIMEOUT';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH') return 'CUSTODIAN_UPSTREAM_UNAVAILABLE';
  return 'CUSTODIAN_UPSTREAM_ERROR';
}

/**
 * Stage: forward the matched request through @fastify/http-proxy to the route's upstream.
 * The path forwarded is the raw path that was checked and matched, unchanged.
 */
export async function registerProxy(app: FastifyInstance, dispatcher: Agent) {
  const options: FastifyHttpProxyOptions = {
    upstream: '',
    httpMethods: ALL_METHODS,
    undici: dispatcher,
    disableRequestLogging: true,
    replyOptions: {
      getUpstream(request) {
        // The route stage guarantees an upstream; without one nothing is forwarded.
        const upstream = request.custodian.upstream;
        if (!upstream) throw new Error('no upstream selected');
        return upstream.origin;
      },
      rewriteRequestHeaders(request, headers) {
        const upstream = request.custodian.upstream;
        return upstreamRequestHeaders(request.headers, headers.host, {
          requestId: request.id,
          asserted: {},
          forwardAuthorization: upstream?.forwardAuthorization ?? false,
        });
      },
      rewriteHeaders(headers) {
        return clientResponseHeaders(headers);
      },
      onError(rawReply, { error }) {
        const reply = rawReply as unknown as FastifyReply;
        const code = codeForUpstreamFailure(error);
        reply.request.log.warn({ code, cause: (error as { cause?: { code?: string } }).cause?.code }, 'upstream failure');
        sendError(reply, code);
      },
    },
  };
  await app.register(fastifyHttpProxy, options);
}
