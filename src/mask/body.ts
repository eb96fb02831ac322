import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { TransformError } from './walk.js';

const JSON_TYPE = /^(?:application\/json|[a-z]+\/[a-z0-9.!#$&^_-]+\+json)\s*(?:;|$)/i;

/** application/json and any `type/subtype+json`; nothing else is masked. */
export function isJsonContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && JSON_TYPE.test(contentType.trim());
}

/** The error sink of a stream whose failure is acted on elsewhere (see decodedBody). */
export function ignoreLateError(): void {}

/** Fails the stream once more than `cap` bytes have passed: the decompression-bomb guard. */
class ByteCap extends Transform {
  #seen = 0;
  constructor(private readonly cap: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.cap) done(new TransformError('bad_encoding'));
    else done(null, chunk);
  }
}

/**
 * The upstream body as plain bytes. The gateway asks for identity encoding; an upstream that
 * compresses anyway is decompressed with an output cap. Any other encoding is refused.
 */
export function decodedBody(stream: Readable, contentEncoding: string | undefined, cap: number): Readable {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return stream;
  let decoder: Transform;
  if (encoding === 'gzip' || encoding === 'x-gzip') decoder = createGunzip();
  else if (encoding === 'deflate') decoder = createInflate();
  else if (encoding === 'br') decoder = createBrotliDecompress();
  else throw new TransformError('bad_encoding');
  const capped = new ByteCap(cap);
  const fail = (err: unknown) => capped.destroy(err instanceof TransformError ? err : new TransformError('bad_encoding', { cause: err }));
  stream.on('error', (err) => decoder.destroy(err));
  decoder.on('error', fail);
  // Readers attach their own listeners and drop them when done (readPrefix); an error after that
  // (the upstream destroyed once the body was refused, the cap tripping late) must not become an
  // unhandled 'error' event, which would end the process. The reader has already failed closed.
  capped.on('error', ignoreLateError);
  return stream.pipe(decoder).pipe(capped);
}

export interface Prefix {
  readonly chunks: Buffer[];
  readonly bytes: number;
  /** The whole body was read. */
  readonly ended: boolean;
}

/**
 * Read until the body ends or more than `limit` bytes arrived (the rest stays in the stream).
 * A body cut off by the upstream rejects with TransformError('truncated').
 */
export function readPrefix(stream: Readable, limit: number): Promise<Prefix> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
      if (bytes > limit) {
        stream.pause();
        cleanup();
        resolve({ chunks, bytes, ended: false });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ chunks, bytes, ended: true });
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err instanceof TransformError ? err : new TransformError('truncated', { cause: err }));
    };
    // A previous readPrefix may have stopped on the body's last chunk: the stream then ended (and
    // emitted 'end') with nobody listening. Waiting for another 'end' would hang the request.
    if (stream.readableEnded) return resolve({ chunks, bytes, ended: true });
    if (stream.errored) return reject(new TransformError('truncated', { cause: stream.errored }));
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    // A previous readPrefix may have paused the stream; a new 'data' listener does not undo that.
    stream.resume();
  });
}

/** First byte that is not JSON whitespace, or undefined. */
export function firstSignificantByte(chunks: readonly Buffer[]): number | undefined {
  for (const chunk of chunks) {
    for (const b of chunk) if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return b;
  }
  return undefined;
}
