import { connect, createServer, type Socket } from 'node:net';

/**
 * A hostile loan database for the PostgreSQL front end's tests: a byte relay in front of the real
 * server (plaintext, loopback) that can rewrite the next DataRow matching a condition — a row
 * whose own column lengths lie, or with more or fewer columns than its description. Everything
 * else passes untouched, so startup, authentication and the catalogue lookup are the server's own.
 */
export async function pgMitm(targetPort: number) {
  let armed: { match: (body: Buffer) => boolean; mutate: (body: Buffer) => Buffer } | undefined;
  let rewritten = 0;
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    connections++;
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(client).add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    // Server to client: every message is typed (no SSLRequest on a plaintext loopback leg).
    let buffer = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const out: Buffer[] = [];
      while (buffer.length >= 5) {
        const total = 1 + buffer.readInt32BE(1);
        if (buffer.length < total) break;
        let message = buffer.subarray(0, total);
        buffer = buffer.subarray(total);
        if (message[0] === 0x44 && armed?.match(message.subarray(5))) {
          const body = armed.mutate(Buffer.from(message.subarray(5)));
          armed = undefined;
          rewritten++;
          const header = Buffer.alloc(5);
          header[0] = 0x44;
          header.writeInt32BE(body.length + 4, 1);
          message = Buffer.concat([header, body]);
        }
        out.push(message);
      }
      if (out.length > 0) client.write(Buffer.concat(out));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    /** The next DataRow whose body matches is rewritten by `mutate` (its frame length kept right). */
    corruptNext(match: (body: Buffer) => boolean, mutate: (body: Buffer) => Buffer) {
      armed = { match, mutate };
    },
    get rewritten() {
      return rewritten;
    },
    /** Connections made through the relay: a session the gateway refused never opens one. */
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** DataRow rewrites: the last column's length made to overrun the row, a column added, one taken away. */
export const hostileRows: readonly [string, (body: Buffer) => Buffer][] = [
  [
    'a column length that overruns the row',
    (body) => {
      let at = 2;
      let last = 2;
      for (let i = 0; i < body.readInt16BE(0); i++) {
        last = at;
        at += 4 + Math.max(body.readInt32BE(at), 0);
      }
      body.writeInt32BE(body.length + 64, last);
      return body;
    },
  ],
  [
    'more columns than the description',
    (body) => {
      const extra = Buffer.from('\0\0\0\x0413800138000', 'latin1');
      extra.writeInt32BE(11, 0);
      body.writeInt16BE(body.readInt16BE(0) + 1, 0);
      return Buffer.concat([body, extra]);
    },
  ],
  [
    'fewer columns than the description',
    (body) => {
      body.writeInt16BE(body.readInt16BE(0) - 1, 0);
      return body;
    },
  ],
];
