/**
 * Active speaker selection with hysteresis, fed with the loudest host at each
 * audio-level report. Pure (the caller passes the time): a challenger must be
 * the loudest for `minDominanceMs` without interruption, and the current
 * speaker keeps the program for at least `minHoldMs`, so crosstalk and short
 * interjections don't make the program flap. Silence keeps the current speaker.
 */
export interface SpeakerSelectorOptions {
  /** How long a new speaker must be the loudest before taking over, ms. */
  minDominanceMs: number;
  /** How long a speaker holds the program at least, ms. */
  minHoldMs: number;
}

export class SpeakerSelector {
  readonly #opts: SpeakerSelectorOptions;
  #current: string | undefined;
  #since = 0;
  #from = 0;
  #challenger: string | undefined;
  #challengerSince = 0;

  constructor(opts: SpeakerSelectorOptions) {
    if (!(opts.minDominanceMs >= 0) || !(opts.minHoldMs >= 0)) throw new TypeError('hysteresis times must be ≥ 0');
    this.#opts = opts;
  }

  get current(): string | undefined {
    return this.#current;
  }

  /**
   * When the current speaker began to be the loudest (ms): the start of the
   * dominance that made it the speaker, before the hysteresis decided. This is
   * when the turn really began, so the timeline marks it there.
   */
  get currentFrom(): number {
    return this.#from;
  }

  /** One report: the loudest host now (undefined for silence). Returns the speaker after it. */
  update(loudest: string | undefined, now: number): string | undefined {
    if (loudest === undefined) {
      // Silence interrupts a challenge; it never takes the program away.
      this.#challenger = undefined;
      return this.#current;
    }
    if (this.#current === undefined) {
      this.#switch(loudest, now, now);
      return this.#current;
    }
    if (loudest === this.#current) {
      this.#challenger = undefined;
      return this.#current;
    }
    if (loudest !== this.#challenger) {
      this.#challenger = loudest;
      this.#challengerSince = now;
    }
    if (now - this.#challengerSince >= this.#opts.minDominanceMs && now - this.#since >= this.#opts.minHoldMs) this.#switch(loudest, now, this.#challengerSince);
    return this.#current;
  }

  /** A host left: it can be neither speaker nor challenger any more. */
  remove(hostId: string): void {
    if (this.#current === hostId) this.#current = undefined;
    if (this.#challenger === hostId) this.#challenger = undefined;
  }

  #switch(hostId: string, now: number, from: number): void {
    this.#current = hostId;
    this.#since = now;
    this.#from = from;
    this.#challenger = undefined;
  }
}

/** The loudest of an audio-level report (mediasoup dBov volumes, higher is louder). */
export function loudestOf(levels: readonly { hostId: string; volume: number }[]): string | undefined {
  let best: { hostId: string; volume: number } | undefined;
  for (const l of levels) if (!best || l.volume > best.volume) best = l;
  return best?.hostId;
}
