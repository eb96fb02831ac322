import { Transform, type TransformCallback } from 'node:stream';
import type { FieldPlan } from './plan.js';
import type { FieldReport } from './report.js';
import { TransformError, transformValue } from './walk.js';

enum State {
  Start,
  ElementOrEnd,
  Element,
  InElement,
  End,
}

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

const FLUSH_AT = 64 * 1024;

/**
 * Masks a top-level JSON array as it streams: elements are cut out by a byte scanner (UTF-8
 * continuation bytes never equal the ASCII structure characters), each parsed, transformed with
 * the purpose's plan and written out. Memory is bounded by the largest single element
 * (`maxElementBytes`), not the body. Anything that is not a well-formed array — including a body
 * that ends early — destroys the stream with a TransformError: only masked elements were ever
 * written, and the client sees the response cut off rather than completed.
 */
export class ArrayMaskingStream extends Transform {
  #state = State.Start;
  #depth = 0;
  #inString = false;
  #escape = false;
  #parts: Buffer[] = [];
  #partBytes = 0;
  #first = true;
  #out: string[] = [];
  #outBytes = 0;
  readonly #plan: FieldPlan;
  readonly #report: FieldReport;
  readonly #maxElementBytes: number;
  elements = 0;

  constructor(plan: FieldPlan, report: FieldReport, maxElementBytes: number) {
    super({ readableHighWaterMark: FLUSH_AT });
    this.#plan = plan;
    this.#report = report;
    this.#maxElementBytes = maxElementBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.#scan(chunk);
      this.#flushOut(false);
      done();
    } catch (err) {
      done(err instanceof TransformError ? err : new TransformError('invalid_json', { cause: err }));
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.#state !== State.End) {
      done(new TransformError('truncated'));
      return;
    }
    this.#flushOut(true);
    done();
  }

  #emit(text: string): void {
    this.#out.push(text);
    this.#outBytes += text.length;
  }

  #flushOut(force: boolean): void {
    if (this.#out.length > 0 && (force || this.#outBytes >= FLUSH_AT)) {
      this.push(this.#out.join(''));
      this.#out = [];
      this.#outBytes = 0;
    }
  }

  #finishElement(chunk: Buffer, end: number): void {
    this.#parts.push(chunk.subarray(this.#partStart, end));
    this.#partBytes += end - this.#partStart;
    if (this.#partBytes > this.#maxElementBytes) throw new TransformError('too_large');
    const text = Buffer.concat(this.#parts).toString('utf8');
    this.#parts = [];
    this.#partBytes = 0;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new TransformError('invalid_json', { cause: err });
    }
    const masked = transformValue(value, this.#plan, this.#report, '$[*]', 1);
    this.#emit(this.#first ? JSON.stringify(masked) : `,${JSON.stringify(masked)}`);
    this.#first = false;
    this.elements++;
  }

  #partStart = 0;

  #scan(chunk: Buffer): void {
    const n = chunk.length;
    this.#partStart = 0;
    for (let i = 0; i < n; i++) {
      const b = chunk[i] as number;
      switch (this.#state) {
        case State.InElement:
          if (this.#inString) {
            if (this.#escape) this.#escape = false;
            else if (b === BACKSLASH) this.#escape = true;
            else if (b === QUOTE) this.#inString = false;
          } else if (b === QUOTE) {
            this.#inString = true;
          } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
            this.#depth++;
          } else if (b === CLOSE_BRACE || (b === CLOSE_BRACKET && this.#depth > 0)) {
            this.#depth--;
            if (this.#depth < 0) throw new TransformError('invalid_json');
          } else if (this.#depth === 0 && (b === COMMA || b === CLOSE_BRACKET)) {
            this.#finishElement(chunk, i);
            if (b === CLOSE_BRACKET) {
              this.#emit(']');
              this.#state = State.End;
            } else {
              this.#state = State.Element;
            }
          }
          break;
        case State.Start:
          if (isSpace(b)) break;
          if (b !== OPEN_BRACKET) throw new TransformError('invalid_json');
          this.#emit('[');
          this.#state = State.ElementOrEnd;
          break;
        case State.ElementOrEnd:
        case State.Element:
          if (isSpace(b)) break;
          if (b === CLOSE_BRACKET && this.#state === State.ElementOrEnd) {
            this.#emit(']');
            this.#state = State.End;
            break;
          }
          if (b === COMMA || b === CLOSE_BRACKET) throw new TransformError('invalid_json');
          this.#state = State.InElement;
          this.#partStart = i;
          this.#depth = 0;
          this.#inString = false;
          this.#escape = false;
          i--; // re-read this byte as the element's first
          break;
        case State.End:
          if (!isSpace(b)) throw new TransformError('invalid_json');
          break;
      }
    }
    if (this.#state === State.InElement) {
      const rest = chunk.subarray(this.#partStart);
      this.#parts.push(rest);
      this.#partBytes += rest.length;
      if (this.#partBytes > this.#maxElementBytes) throw new TransformError('too_large');
    }
  }
}
