/**
 * Where media time meets the wall clock for DASH availability: per period
 * (one source's media, one init segment), the wall-clock ms at which media
 * time 0 (seconds of the period's own media clock) would reach us with no
 * delay at all, estimated as the earliest `arrival − media end` seen over the
 * period's chunks.
 *
 * Why not the first chunk: FFmpeg probes its input (analyzeduration) and then
 * encodes the backlog as fast as it can, so its first fragments come in a
 * burst about a second late and every later one comes earlier relative to
 * them. Anchored on the first chunk, an MPD announces every segment about a
 * second after it really exists, and dash.js (which measures latency on
 * availabilityStartTime's clock) then holds a second more than it thinks.
 *
 * An estimate is frozen the first time a manifest uses it: a published
 * availabilityStartTime or Period@start must not move under a player.
 * Pure: arrival times come in as data.
 */
export class AvailabilityClock {
  readonly #earliest = new Map<number, number>();
  readonly #frozen = new Map<number, number>();

  /** A chunk of period `period` ending at media time `mediaEndSeconds` arrived at `arrivalMs`. */
  observe(period: number, mediaEndSeconds: number, arrivalMs: number): void {
    if (this.#frozen.has(period)) return;
    const zero = arrivalMs - mediaEndSeconds * 1000;
    const cur = this.#earliest.get(period);
    if (cur === undefined || zero < cur) this.#earliest.set(period, zero);
  }

  /** Wall-clock ms of media time 0 of period `period`, frozen from now on; undefined before any chunk. */
  zeroMs(period: number): number | undefined {
    const frozen = this.#frozen.get(period);
    if (frozen !== undefined) return frozen;
    const zero = this.#earliest.get(period);
    if (zero === undefined) return undefined;
    this.#frozen.set(period, zero);
    this.#earliest.delete(period);
    return zero;
  }
}
