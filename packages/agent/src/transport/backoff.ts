/**
 * Exponential backoff with full jitter: attempt n waits a random time in
 * [0, min(max, initial * 2^n)], at least 1/4 of the cap so that reconnects do not spin.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt, in milliseconds. */
  next(): number {
    const cap = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.round(cap / 4 + (this.random() * (cap * 3)) / 4);
  }

  reset(): void {
    this.attempt = 0;
  }
}
