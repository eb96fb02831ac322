import { createServer, connect, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

const SSL_REQUEST = 80877103;

/**
 * Baseline for the PostgreSQL front end: the cheapest thing that could stand on its port — answer
 * the SSLRequest, terminate TLS, and pipe bytes both ways to the upstream, no message parsing, no
 * policy, no record. Its throughput is the floor the stack itself sets (Node's TLS and sockets on
 * the same two cores as PostgreSQL and pgbench).
 */
export async function startBarePgRelay(upstreamPort: number, cert: string, key: string): Promise<{ port: number; server: Server }> {
  const server = createServer((raw: Socket) => {
    raw.setNoDelay(true);
    raw.once('data', (first: Buffer) => {
      if (first.length !== 8 || first.readInt32BE(4) !== SSL_REQUEST) {
        raw.destroy();
        return;
      }
      raw.write('S');
      const tls = new TLSSocket(raw, { isServer: true, cert, key });
      const upstream = connect({ host: '127.0.0.1', port: upstreamPort });
      upstream.setNoDelay(true);
      tls.pipe(upstream).pipe(tls);
      const close = () => {
        tls.destroy();
        upstream.destroy();
      };
      tls.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, server };
}
