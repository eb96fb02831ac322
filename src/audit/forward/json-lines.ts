import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ForwardedRecord, ForwardTarget } from './target.js';

/**
 * JSON lines appended to a file for any collector (Filebeat, Fluent Bit, Vector…): one chained
 * record per line, as the database holds it, delivered once the file is fdatasync'd.
 */
export class JsonLinesTarget implements ForwardTarget {
  readonly name = 'jsonl';
  readonly #file: string;
  #fh: FileHandle | undefined;

  constructor(file: string) {
    this.#file = file;
  }

  async deliver(records: readonly ForwardedRecord[]): Promise<void> {
    if (!this.#fh) {
      await mkdir(dirname(this.#file), { recursive: true });
      this.#fh = await open(this.#file, 'a', 0o640);
    }
    const text = records.map((r) => `{"instance":${JSON.stringify(r.instance)},"seq":${r.seq},"hash":"${r.hash}","record":${r.recordText}}\n`).join('');
    try {
      await this.#fh.write(text);
      await this.#fh.datasync();
    } catch (err) {
      // Reopen next time: the file may have been rotated away or the disk freed.
      await this.#fh.close().catch(() => undefined);
      this.#fh = undefined;
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.#fh?.close();
    this.#fh = undefined;
  }
}
