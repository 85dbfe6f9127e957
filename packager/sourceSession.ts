import type { Writable } from 'node:stream';
import type { FragmentInfo, InitInfo } from './cmaf.ts';

/** What a source session's CMAF byte stream yields, with the arrival time of each fragment. */
export type SessionEvent =
  | { readonly type: 'init'; readonly info: InitInfo; readonly bytes: Buffer }
  | { readonly type: 'fragment'; readonly info: FragmentInfo; readonly bytes: Buffer; readonly now: number };

/**
 * One source session of a track: one FFmpeg run's output for it. A new session
 * does not cut the one before it when it opens (FFmpeg opens its outputs well
 * before it has media), only when it is switched in; until then its media is held
 * here and the previous session keeps the track fed, so a restart shows viewers a
 * discontinuity and no gap.
 */
export class SourceSession {
  /** The transcoder run it comes from, shared by the tracks of one FFmpeg run (none for an HTTP push). */
  readonly run: number | undefined;
  /** Opening order within the track. */
  readonly seq: number;
  state: 'pending' | 'active' | 'superseded' = 'pending';
  /** The byte stream ended (FFmpeg closed its push). */
  ended = false;
  writable: Writable | undefined;
  #held: SessionEvent[] = [];
  /** Arrival of the first held fragment (ms since the epoch). */
  #readySince: number | undefined;

  constructor(run: number | undefined, seq: number) {
    this.run = run;
    this.seq = seq;
  }

  hold(event: SessionEvent): void {
    this.#held.push(event);
    if (event.type === 'fragment') this.#readySince ??= event.now;
  }

  /** Whether a fragment is held: the session has media and can be switched in. */
  get ready(): boolean {
    return this.state === 'pending' && this.#readySince !== undefined;
  }

  /** Media time held, ms (for logs). */
  get heldMs(): number {
    let ms = 0;
    let timescale = 0;
    for (const ev of this.#held) {
      if (ev.type === 'init') timescale = ev.info.timescale;
      else if (timescale > 0) ms += (ev.info.duration * 1000) / timescale;
    }
    return ms;
  }

  /**
   * How long it has been ready, by the clock: FFmpeg bursts the audio it buffered
   * while starting, so the media time held says little about the wait.
   */
  readyForMs(now: number): number {
    return this.#readySince === undefined ? 0 : now - this.#readySince;
  }

  /** Hands over the held events, oldest first, and holds nothing more. */
  take(): SessionEvent[] {
    const held = this.#held;
    this.#held = [];
    return held;
  }
}
