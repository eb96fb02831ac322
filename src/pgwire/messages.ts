import { cString } from './frames.js';
import type { UpstreamField } from './upstream.js';

/**
 * Decoding the few messages the gateway must look inside (the rest are relayed as bytes): the
 * client's extended-protocol messages, and the server's row descriptions, rows and errors.
 */

export interface ParseMessage {
  readonly name: string;
  readonly query: string;
}

export function decodeParse(body: Buffer): ParseMessage {
  const name = cString(body);
  const query = cString(body, name.next);
  return { name: name.value, query: query.value };
}

export interface BindMessage {
  readonly portal: string;
  readonly statement: string;
  /** Result format codes as sent (empty: all text; one: for all columns; else per column). */
  readonly resultFormats: readonly number[];
  /** Offset of the result-format count in the body (for rewriting it to "all text"). */
  readonly resultFormatsAt: number;
}

export function decodeBind(body: Buffer): BindMessage {
  const portal = cString(body);
  const statement = cString(body, portal.next);
  let at = statement.next;
  const paramFormats = body.readInt16BE(at);
  at += 2 + 2 * paramFormats;
  const params = body.readInt16BE(at);
  at += 2;
  for (let i = 0; i < params; i++) {
    const len = body.readInt32BE(at);
    at += 4 + Math.max(len, 0);
  }
  const resultFormatsAt = at;
  const n = body.readInt16BE(at);
  const resultFormats: number[] = [];
  for (let i = 0; i < n; i++) resultFormats.push(body.readInt16BE(at + 2 + 2 * i));
  return { portal: portal.value, statement: statement.value, resultFormats, resultFormatsAt };
}

/** The format (0 text, 1 binary) a Bind asks for result column `i`. */
export function resultFormatOf(bind: BindMessage, i: number): number {
  if (bind.resultFormats.length === 0) return 0;
  return (bind.resultFormats.length === 1 ? bind.resultFormats[0] : bind.resultFormats[i]) ?? 0;
}

/**
 * The Bind body with its result formats replaced: `formats` per column, or "all text" when
 * omitted (values the gateway rewrites are read as text).
 */
export function bindWithResultFormats(body: Buffer, bind: BindMessage, formats: readonly number[] = []): Buffer {
  const tail = Buffer.alloc(2 + 2 * formats.length);
  tail.writeInt16BE(formats.length, 0);
  for (const [i, f] of formats.entries()) tail.writeInt16BE(f, 2 + 2 * i);
  return Buffer.concat([body.subarray(0, bind.resultFormatsAt), tail]);
}

/** Describe / Close: 'S' (statement) or 'P' (portal), and the name. */
export function decodeTarget(body: Buffer): { kind: 'S' | 'P'; name: string } {
  return { kind: body[0] === 0x53 ? 'S' : 'P', name: cString(body, 1).value };
}

/** Execute: the portal, and the most rows to return (0: all). */
export function decodeExecute(body: Buffer): { portal: string; maxRows: number } {
  const portal = cString(body);
  return { portal: portal.value, maxRows: body.length >= portal.next + 4 ? body.readInt32BE(portal.next) : 0 };
}

/** An Execute message's body. */
export function executeBody(portal: string, maxRows: number): Buffer {
  const body = Buffer.alloc(Buffer.byteLength(portal) + 5);
  body.write(portal, 0, 'utf8');
  body.writeInt32BE(maxRows, body.length - 4);
  return body;
}

export function decodeRowDescription(body: Buffer): UpstreamField[] {
  const n = body.readInt16BE(0);
  const fields: UpstreamField[] = [];
  let at = 2;
  for (let i = 0; i < n; i++) {
    const name = cString(body, at);
    at = name.next;
    fields.push({
      name: name.value,
      tableID: body.readInt32BE(at),
      columnID: body.readInt16BE(at + 4),
      dataTypeID: body.readInt32BE(at + 6),
      dataTypeSize: body.readInt16BE(at + 10),
      dataTypeModifier: body.readInt32BE(at + 12),
      format: body.readInt16BE(at + 16) === 1 ? 'binary' : 'text',
    });
    at += 18;
  }
  return fields;
}

/** ErrorResponse / NoticeResponse fields by code letter. */
export function decodeFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const code = String.fromCharCode(body[at] as number);
    const value = cString(body, at + 1);
    fields.set(code, value.value);
    at = value.next;
  }
  return fields;
}
