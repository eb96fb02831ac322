import fastifyHttpProxy from '@fastify/http-proxy';
import Fastify from 'fastify';

/** Baseline: a bare @fastify/http-proxy over the same TLS, no Custodian stages. */
const [upstream, cert, key] = [process.env.BENCH_UPSTREAM, process.env.BENCH_CERT, process.env.BENCH_KEY];
if (!upstream || !cert || !key) throw new Error('BENCH_UPSTREAM, BENCH_CERT and BENCH_KEY are required');
const app = Fastify({ https: { cert, key }, logger: false });
await app.register(fastifyHttpProxy, { upstream });
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
