import type { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { presentedCertificate } from '../auth/certificate.js';
import type { PresentedCertificate } from '../auth/principal.js';
import type { PolicyHolder } from '../policy/compile.js';
import { sendError } from './errors.js';
import { rawHeaderValues } from './raw-headers.js';

/** The client certificate, only if the TLS layer verified it against the configured client CA. */
function verifiedCertificate(socket: TLSSocket): PresentedCertificate | undefined {
  if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return undefined;
  return presentedCertificate(socket.getPeerCertificate());
}

/**
 * Stage: establish who is calling before anything else is revealed (even whether a route
 * exists). Default deny: no identity, no further processing.
 */
export function registerAuthenticate(app: FastifyInstance, policy: PolicyHolder) {
  app.addHook('onRequest', async (request, reply) => {
    const target = request.custodian.target;
    if (!target) return sendError(reply, 'CUSTODIAN_PATH_INVALID');
    // Pin the policy for the whole request: a reload mid-request does not change its rules.
    const current = policy.current;
    request.custodian.policy = current;
    const result = await current.authenticator.authenticate({
      authorization: rawHeaderValues(request.raw, 'authorization'),
      rawQuery: target.rawQuery,
      certificate: verifiedCertificate(request.raw.socket as TLSSocket),
    });
    if (!result.ok) {
      request.log.info({ code: result.code }, 'authentication refused');
      return sendError(reply, result.code, result.hint);
    }
    request.custodian.principal = result.principal;
    return undefined;
  });
}
