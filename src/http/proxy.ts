import type { Readable } from 'node:stream';
import type { Agent, Dispatcher } from 'undici';
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { Principal } from '../auth/principal.js';
import type { ErrorCode } from '../errors.js';
import type { Allow } from '../pipeline/decision.js';
import { clientResponseHeaders, upstreamRequestHeaders } from '../upstream/headers.js';
import { releasedResponseHeaders } from '../upstream/response-header-policy.js';
import type { Db } from '../store/db.js';
import { sendError } from './errors.js';
import { transformResponse } from './transform.js';

const ALL_METHODS: HTTPMethods[] = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'];

// Certificate verification failures reported by Node's TLS layer.
const TLS_FAILURES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ALTNAME/;

function codeForUpstreamFailure(error: unknown): ErrorCode {
  const outer = error as { code?: string; cause?: { code?: string } };
  const code = outer.cause?.code ?? outer.code ?? '';
  if (TLS_FAILURES.test(code)) return 'CUSTODIAN_UPSTREAM_TLS';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return 'CUSTODIAN_UPSTREAM_TIMEOUT';
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH') return 'CUSTODIAN_UPSTREAM_UNAVAILABLE';
  return 'CUSTODIAN_UPSTREAM_ERROR';
}

/** Header-safe form of an asserted value: printable ASCII kept, anything else percent-encoded. */
function headerSafe(value: string): string {
  return /^[\x21-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/** What the gateway asserts to the upstream about the caller (client-sent X-Custodian-* is dropped). */
function identityHeaders(principal: Principal, purpose: string): Record<string, string> {
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
 * The upstream's answer, read into the reply: its status, the headers the route's header policy
 * releases (identifiers in a Location or a Set-Cookie masked, unknown headers dropped), and then
 * the body through the transform stage — nothing reaches the client unmasked.
 */
function answer(request: FastifyRequest, reply: FastifyReply, decision: Allow, res: Dispatcher.ResponseData, db: Db): void {
  const state = request.custodian;
  state.upstreamRespondedAt = performance.now();
  if (reply.raw.destroyed) {
    // The client hung up while the upstream was answering: nobody is left to release to. (Not
    // the request's own `destroyed`: a request stream is destroyed as soon as its body is read.)
    res.body.destroy();
    return;
  }
  const status = res.statusCode;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    // A 1xx or out-of-range final status (undici passes 101 through) has no body to mask.
    res.body.destroy();
    request.log.warn({ code: 'CUSTODIAN_UPSTREAM_ERROR' }, 'upstream answered with an unusable status');
    sendError(reply, 'CUSTODIAN_UPSTREAM_ERROR');
    return;
  }
  const policy = decision.policy.responseHeaders.get(decision.match.route.config.id);
  reply.code(status);
  if (policy) reply.headers(releasedResponseHeaders(clientResponseHeaders(res.headers), policy, state.headerDetectorHits));
  // An HTTP/1 connection cannot take another request until this one's body has been read; the
  // upstream answered before that, so the client's connection ends with this response.
  if (!request.raw.complete) reply.header('connection', 'close');
  const upstream = { statusCode: status, headers: res.headers, stream: res.body };
  transformResponse(request, reply, upstream, db).catch((err: unknown) => {
    // Fail closed: whatever went wrong, no unmasked byte is released.
    request.log.error({ err }, 'transform stage failed');
    reply.raw.destroy();
  });
}

/**
 * Stage: forward an allowed request to its route's upstream, exactly once, and pass the answer
 * to the transform stage. The path and query are the raw request target `decide` checked and
 * matched, byte for byte; the body is streamed as the client sends it (or as four-eyes read it).
 *
 * One undici request through the upstream dispatcher (verified TLS, per-upstream timeouts),
 * rather than @fastify/http-proxy's reply-from, which Custodian used before: reply-from re-sent a
 * GET the upstream answered 503 up to ten times (one client request became eleven upstream
 * requests, and ~12 s of waiting, against an upstream that had just said it was overloaded — a
 * gateway whose record says "forwarded" forwards once), passed a client's `Expect` on for undici
 * to refuse, and its URL building, header copies and retry wrapper cost ~5 % of Custodian's
 * main-thread instructions per 2 KB request (callgrind), for streaming that a masked response,
 * read whole before it is transformed, does not use.
 */
export async function registerProxy(app: FastifyInstance, dispatcher: Agent, db: Db) {
  function forward(request: FastifyRequest, reply: FastifyReply): void {
    const state = request.custodian;
    const decision = state.decision;
    // Defence in depth: only a request `decide` allowed is ever forwarded. A refusal has already
    // ended the request, so this cannot normally be reached without an allow; if it is, the
    // connection is cut rather than answered twice.
    if (!decision?.allowed || state.refusal) {
      if (!reply.sent) {
        request.log.error({ code: 'CUSTODIAN_INTERNAL' }, 'request reached the proxy without an allow decision');
        reply.hijack();
        reply.raw.destroy();
      }
      return;
    }
    const { upstream, principal, purpose, policy } = decision;
    const headers = upstreamRequestHeaders(request.headers, upstream.host, {
      requestId: request.id,
      asserted: identityHeaders(principal, purpose.config.id),
      forwardAuthorization: upstream.forwardAuthorization,
      credentialHeaders: policy.authenticator.applications.forwardedTokenHeaders,
    });
    state.upstreamStartedAt = performance.now();
    dispatcher.request(
      {
        origin: upstream.origin,
        path: request.url,
        method: request.method as Dispatcher.HttpMethod,
        headers: headers as Record<string, string | string[]>,
        body: (request.body as Readable | undefined) ?? null,
      },
      (err, res) => {
        if (err) {
          const code = codeForUpstreamFailure(err);
          request.log.warn({ code, cause: (err as { code?: string }).code }, 'upstream failure');
          sendError(reply, code);
          return;
        }
        answer(request, reply, decision, res, db);
      },
    );
  }

  await app.register(async (scope) => {
    // The body is forwarded as the client sends it, never parsed: whatever its type, the
    // handler gets the raw stream (and nothing is parsed that the upstream would parse again).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    for (const url of ['/', '/*']) scope.route({ method: ALL_METHODS, url, handler: forward });
  });
}
