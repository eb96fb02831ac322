/**
 * Background work of the audit trail (shipping to the store, forwarding to the log platform):
 * `task` runs now, then again `delayMs()` after each run ends, until stop(), which waits for a run
 * in progress. Timers are unref'd: they never keep the process alive. A run that throws is
 * the task's own business (it records and backs off); the loop goes on.
 */
export class Repeating {
  readonly #task: () => Promise<void>;
  readonly #delayMs: () => number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(task: () => Promise<void>, delayMs: () => number) {
    this.#task = task;
    this.#delayMs = delayMs;
  }

  start(): void {
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => this.#run(), ms);
    this.#timer.unref();
  }

  #run(): void {
    if (this.#stopped) return;
    this.#running = this.#task()
      .catch(() => undefined)
      .finally(() => {
        this.#running = undefined;
        if (!this.#stopped) this.#schedule(this.#delayMs());
      });
  }
}

/** The next wait after a failure: doubled, at least 250 ms, at most `capMs`. */
export function nextBackoff(previousMs: number, capMs: number): number {
  return Math.min(Math.max(previousMs * 2, 250), capMs);
}

/** A failure as a status line: its code, or the start of its message (never a whole payload). */
export function failureLabel(err: unknown): string {
  return (err as { code?: string }).code ?? (err instanceof Error ? err.message.slice(0, 120) : 'error');
}
