/**
 * Figures kept in memory and written to the storage now and then (pull times, the store total):
 * `flush()` runs the write one at a time (a flush asked for while one runs waits for it and then
 * writes what came in since), `start()` flushes every `intervalMs` without keeping the process
 * alive, and `stop()` ends the timer and flushes what is left.
 */
export class PeriodicFlush {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: () => Promise<void>,
    private readonly intervalMs = 30_000,
    /** A write that failed on the timer (the write itself keeps what it could not write). */
    private readonly onError: (e: unknown) => void = () => {},
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush().catch(this.onError), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  flush(): Promise<void> {
    // One failed write must not stop every later one: each starts after the previous settles.
    this.running = this.running.catch(() => {}).then(() => this.write());
    return this.running;
  }
}
