import type { Socket } from 'node:net';
import { Server as TlsServer, type TlsOptions, type TLSSocket } from 'node:tls';

/**
 * TLS for the PostgreSQL protocol, which starts in the clear (SSLRequest, then TLS on the same
 * connection). Node decides whether a client's certificate verified (`authorized`) only for
 * sockets a tls.Server accepts; a server-side TLSSocket built by hand leaves `authorized` false
 * whatever the client sent, so certificates would never count. A plain socket past its SSLRequest
 * is therefore handed to a tls.Server that listens on nothing, and its session gets back the
 * socket that server accepted once the handshake is done.
 *
 * A handshake that fails ends the plain socket, whose own close ends the session; nothing here
 * waits on it.
 */
export class TlsAcceptor {
  readonly #server: TlsServer;
  /** Sessions waiting for their handshake, by the client's address and port (unique while open). */
  readonly #waiting = new Map<string, (secure: TLSSocket) => void>();

  constructor(options: TlsOptions) {
    this.#server = new TlsServer(options);
    this.#server.on('secureConnection', (secure: TLSSocket) => {
      const key = peerKey(secure);
      const accepted = this.#waiting.get(key);
      this.#waiting.delete(key);
      if (accepted) accepted(secure);
      else secure.destroy();
    });
    // Handled by the plain socket's close; without a listener Node would do the same, said here.
    this.#server.on('tlsClientError', () => undefined);
  }

  /** Start the handshake on `plain`; `accepted` runs with the TLS socket once it is done. */
  accept(plain: Socket, accepted: (secure: TLSSocket) => void): void {
    const key = peerKey(plain);
    this.#waiting.set(key, accepted);
    plain.once('close', () => {
      if (this.#waiting.get(key) === accepted) this.#waiting.delete(key);
    });
    this.#server.emit('connection', plain);
  }
}

function peerKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}
