import type { DatabaseConfig } from '../config/types.js';
import type { Logger } from '../logging.js';
import { type ColumnNames, connectUpstream, type Upstream } from './upstream.js';

/**
 * Which table OID and attribute number is which policy column, shared by every session.
 *
 * Result columns are masked by that mapping, so it must follow the database: a migration that
 * renames, swaps or recreates columns while pooled sessions stay open for hours would otherwise
 * have one column's values released under another column's rule. It is re-read on a timer over
 * the gateway's own connection, and at once when a result names a table OID it does not know
 * (that result is refused meanwhile, never released with a guessed rule). Each change bumps
 * `version`, so plans made from the old mapping are made again.
 */
export class ColumnCatalogue {
  #names: ColumnNames = new Map();
  #text = '';
  #version = 0;
  #loaded = false;
  #connection: Upstream | undefined;
  #reading: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: DatabaseConfig,
    private readonly logger: Logger,
  ) {}

  get names(): ColumnNames {
    return this.#names;
  }

  /** Bumped whenever a re-read finds the mapping changed. */
  get version(): number {
    return this.#version;
  }

  /** Re-read every catalogueRefreshSeconds (the first read happens on the first session). */
  start(): void {
    this.#timer = setInterval(() => void this.refresh().catch(() => undefined), this.config.catalogueRefreshSeconds * 1000);
    this.#timer.unref();
  }

  /** The mapping, read at least once (a session cannot start without it). */
  async ready(): Promise<ColumnNames> {
    if (!this.#loaded) await this.refresh();
    return this.#names;
  }

  /** Re-read now; concurrent callers share one read. Rejects when the database cannot be read. */
  refresh(): Promise<void> {
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  /** A result named a table OID the mapping lacks: re-read in the background. */
  stale(): void {
    void this.refresh().catch(() => undefined);
  }

  async #read(): Promise<void> {
    try {
      this.#connection ??= await connectUpstream(this.config.upstream);
      const names = await this.#connection.columnNames([...this.config.tables.keys()]);
      const text = JSON.stringify([...names].sort(([a], [b]) => (a < b ? -1 : 1)));
      if (text !== this.#text) {
        this.#names = names;
        this.#text = text;
        if (this.#loaded) this.logger.info({ columns: names.size }, 'database catalogue changed; statements are planned again');
        this.#version++;
      }
      this.#loaded = true;
    } catch (err) {
      // A broken connection is opened afresh next time.
      const broken = this.#connection;
      this.#connection = undefined;
      await broken?.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#reading?.catch(() => undefined);
    await this.#connection?.close();
    this.#connection = undefined;
  }
}
