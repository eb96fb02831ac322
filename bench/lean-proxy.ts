/**
 * An experiment, not part of `npm run bench`: what the proxying itself costs. `reply-from` is
 * @fastify/http-proxy streaming the body (the bench's bare baseline); `reply-from-buffered` the
 * same reading the body whole in onResponse and sending one Buffer (what Custodian did before its
 * proxy stage called undici itself); `handler` keeps @fastify/http-proxy's routes and body
 * parsers but replaces reply.from with a direct undici call; `direct` is one fastify route
 * calling an undici Pool and sending the whole body as a Buffer (what Custodian's stage does
 * now). Same TLS, same upstream, request and response headers copied in each. Proxy pinned to
 * core 0, upstream and autocannon to core 1; 16 connections, 10 s of warm-up, 5 s measured;
 * prints requests/s and process CPU per request. CPU time here moves by a third between runs:
 * for a difference this small, count instructions (bench/instructions.ts shows how).
 *
 *   taskset -c 0 node --import tsx bench/lean-proxy.ts reply-from|reply-from-buffered|handler|direct
 */
import { spawn } from 'node:child_process';
import fastifyHttpProxy from '@fastify/http-proxy';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { generate } from 'selfsigned';
import { Pool } from 'undici';
import { loadFromProcess } from './load-process.js';

type Headers = Record<string, string | string[] | undefined>;

const kind = process.argv[2];
const KINDS = ['reply-from', 'reply-from-buffered', 'handler', 'direct'];
if (!KINDS.includes(kind ?? '')) throw new Error(`usage: lean-proxy.ts ${KINDS.join('|')}`);
const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', algorithm: 'sha256' });
const upstream = spawn('taskset', ['-c', '1', process.execPath, '--import', 'tsx', 'bench/servers/upstream.ts'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const port = await new Promise<number>((resolve) => upstream.once('message', (m: { port: number }) => resolve(m.port)));
const app = Fastify({ https: { cert: pems.cert, key: pems.private }, logger: false });
if (kind === 'reply-from') {
  await app.register(fastifyHttpProxy, { upstream: `http://127.0.0.1:${port}` });
} else if (kind === 'reply-from-buffered') {
  // As Custodian does: reply-from's request, the body read whole in onResponse, sent as one Buffer.
  await app.register(fastifyHttpProxy, {
    upstream: `http://127.0.0.1:${port}`,
    replyOptions: {
      onResponse(_request, reply, res) {
        const chunks: Buffer[] = [];
        res.stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.stream.on('end', () => reply.send(Buffer.concat(chunks)));
      },
    },
  });
} else {
  // One undici Pool call, the whole body read and sent as one Buffer: as Custodian's proxy stage.
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 16 });
  const direct = async (request: FastifyRequest, reply: FastifyReply) => {
    const { host: _host, connection: _connection, ...headers } = request.headers as Headers;
    const res = await pool.request({ method: 'GET', path: request.url, headers });
    const body = Buffer.from(await res.body.arrayBuffer());
    const { connection: _c, 'keep-alive': _k, 'transfer-encoding': _t, ...out } = res.headers as Headers;
    reply.code(res.statusCode).headers(out).send(body);
  };
  // 'handler': @fastify/http-proxy's routes and body handling, its reply.from replaced by that call.
  if (kind === 'handler') await app.register(fastifyHttpProxy, { upstream: `http://127.0.0.1:${port}`, handler: direct });
  else app.get('/*', direct);
}
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
const url = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/api/customers/small`;

const load = (seconds: number) => loadFromProcess(url, { seconds }, { core: 1 });

await load(10);
const before = process.cpuUsage();
const requests = await load(5);
const cpu = process.cpuUsage(before);
console.log(`${kind}: ${(requests / 5).toFixed(0)} req/s, ${((cpu.user + cpu.system) / requests).toFixed(0)} µs CPU per request`);
await app.close();
upstream.kill();
