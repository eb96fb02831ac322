import { writeSync } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chainHash } from './chain.js';
import { listSegments, readRange, segmentName } from './segments.js';
import { type AuditRecord, type ChainedRecord, GENESIS_HASH } from './record.js';

export interface JournalOptions {
  readonly dir: string;
  readonly instance: string;
  /** Start a new segment file after this many bytes. */
  readonly segmentBytes: number;
  /** Unshipped bytes allowed on disk before appends are refused (the spool budget). */
  readonly budgetBytes: number;
}

export interface JournalHealth {
  readonly writable: boolean;
  readonly unshippedBytes: number;
  readonly budgetBytes: number;
  readonly exhausted: boolean;
  readonly headSeq: number;
  readonly shippedSeq: number;
  readonly lastError: string | undefined;
}

/** Why an append was refused: the caller must not release data it cannot record. */
export class JournalUnavailableError extends Error {
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super(`audit journal unavailable: ${reason}`, options);
    this.name = 'JournalUnavailableError';
  }
}

/** A record read back for shipping, with the exact text its hash covers. */
export interface ShippableRecord extends ChainedRecord {
  readonly recordText: string;
}

interface Pending {
  /** Chained at append time, so hashing overlaps the previous batch's fsync. */
  readonly chained: ShippableRecord;
  readonly line: string;
  /** Needs its own fsync before resolving (decision records); others ride on the next one. */
  readonly durable: boolean;
  readonly resolve: (chained: ChainedRecord) => void;
  readonly reject: (err: Error) => void;
}

const READ_CHUNK = 8 * 1024 * 1024;

/**
 * Records written but not yet shipped are also kept in memory, up to this many, so the shipper
 * normally reads nothing back from disk; a backlog beyond it (a database outage, a restart) is
 * read from the segment files. A few seconds of traffic at thousands of requests per second,
 * and ~10 MB at most: a pod's memory limit must not depend on how long the database is away.
 */
const MEMORY_TAIL_RECORDS = 5_000;

const WRITE_IN_PLACE_BYTES = 32 * 1024;

/**
 * Records nobody waits on (completion facts; every record with `durability: async`) are written
 * without an fdatasync of their own — on this kind of disk one costs ~100 µs of kernel CPU and
 * more in thread-pool hand-offs — and are synced together at most this long after.
 */
const SYNC_UNWAITED_AFTER_MS = 100;

/**
 * The local, append-only, hash-chained audit journal. Appends are group-committed: records that
 * arrive while a flush is in progress are written and fsync'd together, and each append resolves
 * only once its record is on disk. A torn tail from a crash is cut back to the last whole record
 * on open.
 */
export class Journal {
  readonly #opts: JournalOptions;
  #fh: FileHandle | undefined;
  #segmentSize = 0;
  #headSeq = 0;
  #headHash = GENESIS_HASH;
  /** The head including records queued but not yet written. */
  #pendingSeq = 0;
  #pendingHash = GENESIS_HASH;
  #shippedSeq = 0;
  #unshippedBytes = 0;
  #queue: Pending[] = [];
  /** Written records not yet shipped, oldest first, consecutive seqs (see MEMORY_TAIL_RECORDS). */
  #tail: ShippableRecord[] = [];
  /**
   * Every record from this seq on reaches the tail once its batch is written (and synced, when
   * someone waits on it): records before it were written by an earlier process or left memory at
   * the cap, and only those are read back from disk.
   */
  #tailFrom = 1;
  #flushing = false;
  /** Bytes written since the last fdatasync, and the timer that will sync them. */
  #unsynced = false;
  #syncTimer: NodeJS.Timeout | undefined;
  #writable = true;
  #lastError: string | undefined;
  #closed = false;
  /** Bytes per seq range not yet shipped, oldest first, to release budget when shipping advances. */
  #unshippedBatches: { lastSeq: number; bytes: number }[] = [];

  private constructor(opts: JournalOptions) {
    this.#opts = opts;
  }

  static async open(opts: JournalOptions): Promise<Journal> {
    const journal = new Journal(opts);
    await mkdir(opts.dir, { recursive: true });
    await journal.#recover();
    journal.#pendingSeq = journal.#headSeq;
    journal.#pendingHash = journal.#headHash;
    journal.#tailFrom = journal.#headSeq + 1;
    return journal;
  }

  get instance(): string {
    return this.#opts.instance;
  }

  get dir(): string {
    return this.#opts.dir;
  }

  /** Records waiting for the next group commit. */
  get queueLength(): number {
    return this.#queue.length;
  }

  /** Write failures since open. */
  writeFailures = 0;

  /** The last record on disk: what a checkpoint signs. */
  get head(): { seq: number; hash: string } {
    return { seq: this.#headSeq, hash: this.#headHash };
  }

  get health(): JournalHealth {
    return {
      writable: this.#writable,
      unshippedBytes: this.#unshippedBytes,
      budgetBytes: this.#opts.budgetBytes,
      exhausted: this.#unshippedBytes >= this.#opts.budgetBytes,
      headSeq: this.#headSeq,
      shippedSeq: this.#shippedSeq,
      lastError: this.#lastError,
    };
  }

  /**
   * Whether a new record can be accepted right now (checked before customer data is fetched).
   * After a write failure one probe per second is let through, so a freed disk recovers.
   */
  canAccept(): boolean {
    if (this.#closed || this.#unshippedBytes >= this.#opts.budgetBytes) return false;
    return this.#writable || Date.now() - this.#failedAt > 1000;
  }

  #failedAt = 0;

  /**
   * Append a record. With `durable` (the default) it resolves once the record is fsync'd; without,
   * once it is written — it becomes durable with the next fsync, and a crash before that can
   * lose it (used for completion facts, which no release waits on).
   */
  append(record: AuditRecord, durable = true): Promise<ChainedRecord> {
    if (this.#closed) return Promise.reject(new JournalUnavailableError('closed'));
    if (this.#unshippedBytes >= this.#opts.budgetBytes) {
      return Promise.reject(new JournalUnavailableError('spool budget exhausted'));
    }
    const seq = ++this.#pendingSeq;
    const prevHash = this.#pendingHash;
    const recordText = JSON.stringify(record);
    const hash = chainHash(prevHash, this.#opts.instance, seq, recordText);
    this.#pendingHash = hash;
    // Kept as is for the shipper (with the text the hash covers), so nothing is copied later.
    const chained: ShippableRecord = { instance: this.#opts.instance, seq, prevHash, hash, record, recordText };
    // The record's text is embedded verbatim, so the hash can be recomputed from the line.
    const line = `{"instance":${JSON.stringify(this.#opts.instance)},"seq":${seq},"prevHash":"${prevHash}","hash":"${hash}","record":${recordText}}`;
    return new Promise((resolve, reject) => {
      this.#queue.push({ chained, line, durable, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        // Start writing as soon as the current synchronous work yields, not a loop turn later: the
        // decision record's fsync then overlaps the rest of the request (routing, the upstream
        // call). Records arriving meanwhile form the next group commit.
        queueMicrotask(() => void this.#flush());
      }
    });
  }

  #scheduleSync(): void {
    this.#unsynced = true;
    if (this.#syncTimer) return;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      void this.#syncUnwaited();
    }, SYNC_UNWAITED_AFTER_MS);
  }

  /** fdatasync what was written without one; a failure marks the journal unwritable, as a write's would. */
  async #syncUnwaited(): Promise<void> {
    if (!this.#unsynced || !this.#fh) return;
    this.#unsynced = false;
    try {
      await this.#fh.datasync();
    } catch (err) {
      this.#markFailed(err, 'sync failed');
    }
  }

  /** A write or sync failed: appends are refused (one probe a second) until one succeeds. */
  #markFailed(err: unknown, fallback: string): string {
    this.#writable = false;
    this.writeFailures++;
    this.#failedAt = Date.now();
    this.#lastError = (err as NodeJS.ErrnoException).code ?? fallback;
    return this.#lastError;
  }

  #remember(batch: readonly Pending[]): void {
    for (const p of batch) this.#tail.push(p.chained);
    if (this.#tail.length > MEMORY_TAIL_RECORDS) {
      this.#tail.splice(0, this.#tail.length - MEMORY_TAIL_RECORDS);
      this.#tailFrom = (this.#tail[0] as ShippableRecord).seq;
    }
  }

  /** Resolves once everything appended so far has been written (or failed): no polling by callers. */
  async flushed(): Promise<void> {
    while (this.#flushing || this.#queue.length > 0) await new Promise((r) => setImmediate(r));
  }

  /** The shipper reports how far the database has everything; frees spool budget. */
  async markShipped(seq: number): Promise<void> {
    if (seq <= this.#shippedSeq) return;
    this.#shippedSeq = seq;
    const firstKept = this.#tail.findIndex((r) => r.seq > seq);
    this.#tail.splice(0, firstKept === -1 ? this.#tail.length : firstKept);
    while (this.#unshippedBatches.length > 0 && (this.#unshippedBatches[0]?.lastSeq ?? 0) <= seq) {
      this.#unshippedBytes -= this.#unshippedBatches.shift()?.bytes ?? 0;
    }
    await writeFile(join(this.#opts.dir, `shipped-${this.#opts.instance}.json`), JSON.stringify({ seq }));
  }

  /** Where the last readAfter stopped, so the shipper does not re-read whole segments. */
  #cursor: { file: string; offset: number; lastSeq: number } | undefined;

  /** Records with seq > `afterSeq`, in order, at most `limit` (for the shipper). */
  async readAfter(afterSeq: number, limit: number): Promise<ShippableRecord[]> {
    const first = this.#tail[0];
    if (first && first.seq <= afterSeq + 1) {
      const from = afterSeq + 1 - first.seq;
      return this.#tail.slice(from, from + limit);
    }
    // Caught up with the tail: what this process wrote after it is still in its batch's fsync and
    // comes from memory at the next call. Reading it back from disk would hand the shipper a
    // record before it is durable, and parse every record of a busy gateway a second time.
    if (!first && afterSeq + 1 >= this.#tailFrom) return [];
    const out: ShippableRecord[] = [];
    const segments = await listSegments(this.#opts.dir, this.#opts.instance);
    let startIndex = 0;
    let offset = 0;
    if (this.#cursor && this.#cursor.lastSeq === afterSeq) {
      startIndex = Math.max(0, segments.findIndex((s) => s.file === this.#cursor?.file));
      offset = this.#cursor.offset;
    } else {
      // Skip segments that end before what we need.
      while (startIndex + 1 < segments.length && (segments[startIndex + 1]?.firstSeq ?? 0) <= afterSeq + 1) startIndex++;
    }
    for (let i = startIndex; i < segments.length && out.length < limit; i++) {
      const file = (segments[i] as { file: string }).file;
      const from = i === startIndex ? offset : 0;
      const buffer = await readRange(file, from, READ_CHUNK);
      let pos = 0;
      while (pos < buffer.length && out.length < limit) {
        const nl = buffer.indexOf(0x0a, pos);
        if (nl === -1) break; // a record still being written, or the read window's end
        const rec = JSON.parse(buffer.subarray(pos, nl).toString('utf8')) as ChainedRecord;
        pos = nl + 1;
        // JSON.stringify of the parsed record gives back exactly the text that was hashed.
        if (rec.seq > afterSeq) out.push({ ...rec, recordText: JSON.stringify(rec.record) });
      }
      this.#cursor = { file, offset: from + pos, lastSeq: out.at(-1)?.seq ?? afterSeq };
      if (pos < buffer.length) break; // more in this segment: the next call continues here
    }
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
    while (this.#flushing) await new Promise((r) => setTimeout(r, 1));
    clearTimeout(this.#syncTimer);
    await this.#syncUnwaited();
    await this.#fh?.close();
    this.#fh = undefined;
  }

  async #recover(): Promise<void> {
    const marker = join(this.#opts.dir, `shipped-${this.#opts.instance}.json`);
    try {
      this.#shippedSeq = (JSON.parse(await readFile(marker, 'utf8')) as { seq: number }).seq;
    } catch {
      this.#shippedSeq = 0;
    }
    const segments = await listSegments(this.#opts.dir, this.#opts.instance);
    for (const segment of segments) {
      const text = await readFile(segment.file, 'utf8');
      let good = 0;
      for (const line of text.split('\n')) {
        if (line === '') continue;
        let rec: ChainedRecord;
        try {
          rec = JSON.parse(line) as ChainedRecord;
        } catch {
          break; // a torn last line from a crash mid-write
        }
        good += Buffer.byteLength(line) + 1;
        this.#headSeq = rec.seq;
        this.#headHash = rec.hash;
        if (rec.seq > this.#shippedSeq) {
          this.#unshippedBytes += Buffer.byteLength(line) + 1;
          this.#unshippedBatches.push({ lastSeq: rec.seq, bytes: Buffer.byteLength(line) + 1 });
        }
      }
      if (segment === segments.at(-1)) {
        const size = (await stat(segment.file)).size;
        this.#fh = await open(segment.file, 'a+');
        if (good < size) await this.#fh.truncate(good);
        this.#segmentSize = good;
      }
    }
  }

  async #openSegmentFor(seq: number): Promise<FileHandle> {
    if (this.#fh && this.#segmentSize < this.#opts.segmentBytes) return this.#fh;
    await this.#syncUnwaited();
    await this.#fh?.close();
    this.#fh = await open(join(this.#opts.dir, segmentName(this.#opts.instance, seq)), 'a+');
    this.#segmentSize = 0;
    return this.#fh;
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      const bytes = Buffer.from(`${batch.map((p) => p.line).join('\n')}\n`);
      const last = (batch.at(-1) as Pending).chained;
      let fh: FileHandle | undefined;
      try {
        fh = await this.#openSegmentFor(this.#headSeq + 1);
        const sizeBefore = this.#segmentSize;
        try {
          // A small batch (light load: latency matters) is copied into the page cache in place:
          // an async write would need the event loop to come back for it before the fdatasync
          // could even start. A large one (heavy load: throughput matters) is written from the
          // thread pool, off the event loop. Either way only the fdatasync waits on the disk.
          if (bytes.length <= WRITE_IN_PLACE_BYTES) {
            for (let written = 0; written < bytes.length; ) written += writeSync(fh.fd, bytes, written, bytes.length - written, null);
          } else {
            await fh.write(bytes, 0, bytes.length, null);
          }
          // One fdatasync per batch, and none for a batch nobody waits on being durable: that
          // one is synced within SYNC_UNWAITED_AFTER_MS.
          if (batch.some((p) => p.durable)) {
            this.#unsynced = false;
            await fh.datasync();
          } else this.#scheduleSync();
        } catch (err) {
          // Undo a partial write so the chain on disk stays whole.
          await fh.truncate(sizeBefore).catch(() => undefined);
          throw err;
        }
        this.#segmentSize += bytes.length;
        this.#headSeq = last.seq;
        this.#headHash = last.hash;
        this.#unshippedBytes += bytes.length;
        this.#unshippedBatches.push({ lastSeq: last.seq, bytes: bytes.length });
        this.#writable = true;
        this.#lastError = undefined;
        this.#remember(batch);
        for (const p of batch) p.resolve(p.chained);
      } catch (err) {
        const failure = new JournalUnavailableError(this.#markFailed(err, 'write failed'), { cause: err });
        // Everything queued since was chained onto the failed records: refuse it too, and
        // restart the chain from what is on disk.
        const rest = this.#queue;
        this.#queue = [];
        for (const p of [...batch, ...rest]) p.reject(failure);
        this.#pendingSeq = this.#headSeq;
        this.#pendingHash = this.#headHash;
      }
    }
    this.#flushing = false;
  }
}
