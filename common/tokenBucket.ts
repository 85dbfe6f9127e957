/**
 * A token bucket: `burst` tokens, refilled at `perSecond`. Pure; the caller
 * passes the clock so tests need no timers.
 */
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    nowMs: number,
  ) {
    if (!(perSecond > 0) || !(burst >= 1)) throw new TypeError('rate limit needs perSecond > 0 and burst >= 1');
    this.#tokens = burst;
    this.#last = nowMs;
  }

  /** Takes one token if there is one. */
  take(nowMs: number): boolean {
    const elapsed = Math.max(0, nowMs - this.#last) / 1000;
    this.#last = nowMs;
    this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.perSecond);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
