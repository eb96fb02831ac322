/**
 * PostgreSQL protocol 3.0 framing (https://www.postgresql.org/docs/current/protocol-message-formats.html):
 * reading what a client sends, with a size cap, and writing the backend messages the gateway
 * itself produces. Upstream messages are parsed by pg's own parser (pg-protocol, through `pg`).
 */

/** Special codes in the version field of an untyped startup-phase message. */
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;
export const PROTOCOL_3 = 196608;

export type FrontendMessage =
  | { readonly kind: 'startup'; readonly code: number; readonly body: Buffer }
  | { readonly kind: 'typed'; readonly type: string; readonly body: Buffer };

export class FrameTooLarge extends Error {}

/**
 * Accumulates bytes from a client and cuts them into messages: untyped (length first) until the
 * startup message has been read, typed (one type byte, then length) after. A declared length
 * over `maxBytes` (or below the minimum) is an attack or a broken client: FrameTooLarge.
 */
export class FrontendReader {
  #buffer: Buffer = Buffer.alloc(0);
  startupDone = false;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): FrontendMessage[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const out: FrontendMessage[] = [];
    for (;;) {
      const typed = this.startupDone;
      const header = typed ? 5 : 4;
      if (this.#buffer.length < header) break;
      const length = this.#buffer.readInt32BE(typed ? 1 : 0);
      if (length < 4 || length > this.maxBytes) throw new FrameTooLarge(`message length ${length}`);
      const total = (typed ? 1 : 0) + length;
      if (this.#buffer.length < total) break;
      const frame = this.#buffer.subarray(0, total);
      this.#buffer = this.#buffer.subarray(total);
      if (typed) out.push({ kind: 'typed', type: String.fromCharCode(frame[0] as number), body: frame.subarray(5) });
      else {
        if (frame.length < 8) throw new FrameTooLarge('startup message too short');
        const code = frame.readInt32BE(4);
        out.push({ kind: 'startup', code, body: frame.subarray(8) });
        // After an encryption request the connection changes hands (TLS, or a refusal): stop here,
        // so the caller can see that nothing else was sent in plaintext behind it.
        if (code === SSL_REQUEST || code === GSSENC_REQUEST || code === CANCEL_REQUEST) break;
        this.startupDone = true;
      }
    }
    return out;
  }

  /** Bytes received but not yet a whole message (for the TLS switch: nothing may be pending). */
  get pending(): number {
    return this.#buffer.length;
  }
}

/** Key/value pairs of a StartupMessage body. */
export function startupParameters(body: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  const parts = body.toString('utf8').split('\0');
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const key = parts[i] as string;
    if (key === '') break;
    params.set(key, parts[i + 1] as string);
  }
  return params;
}

/** A NUL-terminated string at the start of a message body. */
export function cString(body: Buffer, offset = 0): { value: string; next: number } {
  const end = body.indexOf(0, offset);
  const stop = end === -1 ? body.length : end;
  return { value: body.toString('utf8', offset, stop), next: stop + 1 };
}

/** One typed protocol message: type byte, length, body. */
export function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

export const backend = {
  authenticationCleartextPassword: () => message('R', int32(3)),
  authenticationOk: () => message('R', int32(0)),
  parameterStatus: (name: string, value: string) => message('S', Buffer.concat([cstr(name), cstr(value)])),
  backendKeyData: (pid: number, secret: number) => message('K', Buffer.concat([int32(pid), int32(secret)])),
  readyForQuery: (status: 'I' | 'T' | 'E') => message('Z', Buffer.from(status, 'latin1')),
  emptyQueryResponse: () => message('I', Buffer.alloc(0)),
  commandComplete: (tag: string) => message('C', cstr(tag)),
  /** ErrorResponse / NoticeResponse from field codes (S, V, C, M, D, H, …); `type` E or N. */
  fields(type: 'E' | 'N', fields: ReadonlyMap<string, string>): Buffer {
    const parts: Buffer[] = [];
    for (const [code, value] of fields) parts.push(Buffer.from(code, 'latin1'), cstr(value));
    parts.push(Buffer.from([0]));
    return message(type, Buffer.concat(parts));
  },
  error(severity: 'ERROR' | 'FATAL', code: string, text: string): Buffer {
    return backend.fields('E', new Map([['S', severity], ['V', severity], ['C', code], ['M', text]]));
  },
  rowDescription(
    columns: readonly { name: string; tableID: number; columnID: number; dataTypeID: number; dataTypeSize: number; dataTypeModifier: number; format: 'text' | 'binary' }[],
  ): Buffer {
    const parts: Buffer[] = [Buffer.alloc(2)];
    (parts[0] as Buffer).writeInt16BE(columns.length);
    for (const c of columns) {
      const fixed = Buffer.alloc(18);
      fixed.writeInt32BE(c.tableID, 0);
      fixed.writeInt16BE(c.columnID, 4);
      fixed.writeInt32BE(c.dataTypeID, 6);
      fixed.writeInt16BE(c.dataTypeSize, 10);
      fixed.writeInt32BE(c.dataTypeModifier, 12);
      fixed.writeInt16BE(c.format === 'binary' ? 1 : 0, 16);
      parts.push(cstr(c.name), fixed);
    }
    return message('T', Buffer.concat(parts));
  },
};
