import type { Agent } from 'undici';
import fastifyHttpProxy, { type FastifyHttpProxyOptions } from '@fastify/http-proxy';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.js';
import type { ErrorCode } from '../errors.js';
import { clientResponseHeaders, upstreamRequestHeaders } from '../upstream/headers.js';
import { releasedResponseHeaders } from '../upstream/response-header-policy.js';
import type { Db } from '../store/db.js';
import { sendError } from './errors.js';
import { transformResponse, type UpstreamResponse } from './transform.js';

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

/** Header-safe form of an asserted value: printable ASCII kept, anything else percent-encoded. */
function headerSafe(value: string): string {
  return /^[\x21-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/** What the gateway asserts to the upstream about the caller (client-sent X-Custodian-* is dropped). */
function identityHeaders(principal: Principal | undefined, purpose: string | undefined): Record<string, string> {
  if (!principal || !purpose) return {};
  const headers: Record<string, string> = {
    'x-custodian-subject': headerSafe(principal.subject),
    'x-custodian-caller-kind': principal.kind,
    'x-custodian-purpose': purpose,
  };
  if (principal.organisation) headers['x-custodian-organisation'] = headerSafe(principal.organisation);
  if (principal.application) headers['x-custodian-application'] = principal.application.id;
  return headers;
}

/**
 * Stage: forward the matched request through @fastify/http-proxy to the route's upstream.
 * The path forwarded is the raw path that was checked and matched, unchanged.
 */
export async function registerProxy(app: FastifyInstance, dispatcher: Agent, db: Db) {
  const options: FastifyHttpProxyOptions = {
    upstream: '',
    httpMethods: ALL_METHODS,
    undici: dispatcher,
    disableRequestLogging: true,
    // Defence in depth: only a request `decide` allowed is ever forwarded. A refusal has already
    // ended the request, so this cannot normally be reached without an allow; if it is, the
    // connection is cut rather than answered twice.
    preHandler(request, reply, done) {
      const decision = request.custodian.decision;
      if (decision?.allowed && !request.custodian.refusal) return done();
      if (!reply.sent) {
        request.log.error({ code: 'CUSTODIAN_INTERNAL' }, 'request reached the proxy without an allow decision');
        reply.hijack();
        reply.raw.destroy();
      }
    },
    replyOptions: {
      getUpstream(request) {
        const decision = request.custodian.decision;
        // Unreachable after the preHandler; an empty origin fails the call instead of forwarding.
        return decision?.allowed ? decision.upstream.origin : 'http://0.0.0.0:0';
      },
      rewriteRequestHeaders(request, headers) {
        const { upstream, principal, purpose, policy } = request.custodian.decision ?? {};
        request.custodian.upstreamStartedAt = performance.now();
        return upstreamRequestHeaders(request.headers, headers.host, {
          requestId: request.id,
          asserted: identityHeaders(principal, purpose?.config.id),
          forwardAuthorization: upstream?.forwardAuthorization ?? false,
          credentialHeaders: policy?.authenticator.applications.forwardedTokenHeaders,
        });
      },
      rewriteHeaders(headers, request) {
        // Headers are released per the route's header policy: identifiers in a Location or a
        // Set-Cookie are masked, unknown headers dropped (the body's transform comes after).
        const decision = request?.custodian.decision;
        if (!request || !decision?.allowed) return {};
        const policy = decision.policy.responseHeaders.get(decision.match.route.config.id);
        if (!policy) return {};
        return releasedResponseHeaders(clientResponseHeaders(headers), policy, request.custodian.headerDetectorHits);
      },
      onResponse(request, reply, res) {
        // Every response passes the transform stage: nothing reaches the client unmasked.
        const r = reply as unknown as FastifyReply;
        r.request.custodian.upstreamRespondedAt = performance.now();
        transformResponse(request as unknown as FastifyRequest, r, res as unknown as UpstreamResponse, db).catch((err: unknown) => {
          // Fail closed: whatever went wrong, no unmasked byte is released.
          r.request.log.error({ err }, 'transform stage failed');
          r.raw.destroy();
        });
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
