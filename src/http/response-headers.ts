import type { FastifyInstance } from 'fastify';

/**
 * Headers on every data-plane response: the request id (so a refusal can be traced to its
 * audit record) and HSTS, so browsers never fall back to plaintext (policy: transmission is
 * encrypted). Synchronous: a refusal's onSend chain must finish inside send().
 */
export function registerResponseHeaders(app: FastifyInstance, options: { hsts: boolean }) {
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    if (options.hsts) reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
    done(null, payload);
  });
}
