import { StringDecoder } from 'node:string_decoder';
import { Transform, type TransformCallback } from 'node:stream';
import type { FieldPlan } from './plan.js';
import type { FieldReport } from './report.js';
import { TransformError, applyView } from './walk.js';

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

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

const FLUSH_AT = 64 * 1024;

/**
 * Masks a top-level JSON array as it streams: elements are cut out by a scanner over the decoded
 * text (a StringDecoder keeps multi-byte characters split across chunks whole), each parsed,
 * transformed with the purpose's plan and written out. Memory is bounded by the largest single
 * element (`maxElementBytes`, counted in UTF-16 units), not the body. Anything that is not a
 * well-formed array — including a body that ends early — destroys the stream with a
 * TransformError: only masked elements were ever written, and the client sees the response cut
 * off rather than completed.
 */
export class ArrayMaskingStream extends Transform {
  #state = State.Start;
  #depth = 0;
  #inString = false;
  /** Text of the element being read that arrived in earlier chunks. */
  #carry = '';
  #first = true;
  #out: string[] = [];
  #outLength = 0;
  readonly #decoder = new StringDecoder('utf8');
  readonly #plan: FieldPlan;
  readonly #report: FieldReport;
  readonly #maxElement: number;
  /** Called with each parsed element; returning false leaves the element out of the output. */
  readonly #onElement: ((value: unknown) => boolean | undefined) | undefined;
  elements = 0;
  /** Bytes written out so far. */
  outputBytes = 0;

  constructor(plan: FieldPlan, report: FieldReport, maxElementBytes: number, onElement?: (value: unknown) => boolean | undefined) {
    super({ readableHighWaterMark: FLUSH_AT });
    this.#plan = plan;
    this.#report = report;
    this.#maxElement = maxElementBytes;
    this.#onElement = onElement;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.#scan(this.#decoder.write(chunk));
      this.#flushOut(false);
      done();
    } catch (err) {
      done(err instanceof TransformError ? err : new TransformError('invalid_json', { cause: err }));
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.#scan(this.#decoder.end());
    } catch (err) {
      done(err instanceof TransformError ? err : new TransformError('invalid_json', { cause: err }));
      return;
    }
    if (this.#state !== State.End) {
      done(new TransformError('truncated'));
      return;
    }
    this.#flushOut(true);
    done();
  }

  #flushOut(force: boolean): void {
    if (this.#out.length > 0 && (force || this.#outLength >= FLUSH_AT)) {
      const text = this.#out.join('');
      this.outputBytes += Buffer.byteLength(text);
      this.push(text);
      this.#out = [];
      this.#outLength = 0;
    }
  }

  #finishElement(text: string): void {
    if (text.length > this.#maxElement) throw new TransformError('too_large');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new TransformError('invalid_json', { cause: err });
    }
    if (this.#onElement?.(value) === false) return;
    const json = JSON.stringify(applyView(value, this.#plan, this.#report, '$[*]', 1));
    const piece = this.#first ? json : `,${json}`;
    this.#out.push(piece);
    this.#outLength += piece.length;
    this.#first = false;
    this.elements++;
  }

  #scan(text: string): void {
    const n = text.length;
    let start = 0; // where the current element begins in `text` (when it began in this chunk)
    let i = 0;
    while (i < n) {
      if (this.#state === State.InElement) {
        if (this.#inString) {
          // Jump to the next quote; it closes the string unless an odd run of backslashes escapes it.
          const q = text.indexOf('"', i);
          if (q === -1) {
            i = n;
            break;
          }
          let slashes = 0;
          for (let k = q - 1; k >= start && text.charCodeAt(k) === BACKSLASH; k--) slashes++;
          if (q - 1 < start && this.#carry.length > 0) {
            for (let k = this.#carry.length - 1; k >= 0 && this.#carry.charCodeAt(k) === BACKSLASH; k--) slashes++;
          }
          i = q + 1;
          if (slashes % 2 === 0) this.#inString = false;
          continue;
        }
        const c = text.charCodeAt(i);
        if (c === QUOTE) {
          this.#inString = true;
        } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
          this.#depth++;
        } else if (c === CLOSE_BRACE || (c === CLOSE_BRACKET && this.#depth > 0)) {
          if (--this.#depth < 0) throw new TransformError('invalid_json');
        } else if (this.#depth === 0 && (c === COMMA || c === CLOSE_BRACKET)) {
          const piece = text.slice(start, i);
          this.#finishElement(this.#carry.length > 0 ? this.#carry + piece : piece);
          this.#carry = '';
          if (c === CLOSE_BRACKET) {
            this.#out.push(']');
            this.#state = State.End;
          } else {
            this.#state = State.Element;
          }
        }
        i++;
        continue;
      }
      const c = text.charCodeAt(i);
      switch (this.#state) {
        case State.Start:
          if (!isSpace(c)) {
            if (c !== OPEN_BRACKET) throw new TransformError('invalid_json');
            this.#out.push('[');
            this.#state = State.ElementOrEnd;
          }
          i++;
          break;
        case State.ElementOrEnd:
        case State.Element:
          if (isSpace(c)) {
            i++;
            break;
          }
          if (c === CLOSE_BRACKET && this.#state === State.ElementOrEnd) {
            this.#out.push(']');
            this.#state = State.End;
            i++;
            break;
          }
          if (c === COMMA || c === CLOSE_BRACKET) throw new TransformError('invalid_json');
          // This character is the element's first; the InElement branch reads it next.
          this.#state = State.InElement;
          this.#depth = 0;
          this.#inString = false;
          start = i;
          break;
        case State.End:
          if (!isSpace(c)) throw new TransformError('invalid_json');
          i++;
          break;
        default:
          i++;
      }
    }
    if (this.#state === State.InElement) {
      this.#carry += text.slice(start);
      if (this.#carry.length > this.#maxElement) throw new TransformError('too_large');
    }
  }
}
