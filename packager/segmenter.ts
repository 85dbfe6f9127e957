import { TypedEmitter } from '../common/index.ts';
import type { FragmentInfo, InitInfo } from './cmaf.ts';
import type { InitSegment, Part, Segment } from './types.ts';

export interface SegmenterEvents {
  /** A new init segment (a new period: a new source session, or a timestamp jump) took effect. */
  init: [init: InitSegment];
  /** The next segment starts a discontinuity (restart or timestamp jump). */
  discontinuity: [period: number, reason: 'restart' | 'timestamp-jump'];
  /** A part landed (in a new or growing segment). */
  part: [segment: Segment, part: Part];
  /** A segment is complete: no more parts will be added. */
  segment: [segment: Segment];
}

export interface SegmenterOptions {
  segmentTargetMs: number;
  maxTimestampGapMs: number;
  /**
   * The wall-clock anchor of a period, shared by the tracks of one
   * source: the first track to call it for a period sets it, the others get the
   * same one, so their PROGRAM-DATE-TIMEs agree (a player aligns audio and video
   * by them). Without it each track anchors on its own first fragment.
   */
  anchor?: (period: number, proposed: PeriodAnchor) => PeriodAnchor;
}

/** Wall clock (ms) at a media time (s) of a period. */
export interface PeriodAnchor {
  wallMs: number;
  mediaSeconds: number;
}

/**
 * Turns init segments and fragments of one track into parts and segments.
 * It never knows a manifest format; manifests listen to its events. No clocks:
 * `now` (ms since the epoch) is passed in by the caller.
 *
 * Video segments are cut at every keyframe. Audio (every frame a sync sample)
 * is cut on the segment-target time grid at the part whose start is nearest the
 * boundary, so audio segments line up with the video keyframe grid.
 */
export class Segmenter extends TypedEmitter<SegmenterEvents> {
  readonly #opts: SegmenterOptions;
  #init: InitSegment | undefined;
  #period = -1;
  #pendingDiscontinuity = false;
  #nextMsn = 0;
  #dsn = 0;
  #current: Segment | undefined;
  #expectedTime: number | undefined;
  /** Wall clock ↔ media time anchor of the period, for PROGRAM-DATE-TIME. */
  #anchor: PeriodAnchor | undefined;

  constructor(opts: SegmenterOptions) {
    super();
    this.#opts = opts;
  }

  get period(): number {
    return this.#period;
  }

  get init(): InitSegment | undefined {
    return this.#init;
  }

  /** A new init segment: a new period (a discontinuity unless it is the first). */
  onInit(info: InitInfo, bytes: Buffer): void {
    this.#closeCurrent();
    this.#period++;
    this.#init = { period: this.#period, info, bytes };
    this.#expectedTime = undefined;
    this.#anchor = undefined;
    if (this.#nextMsn > 0) {
      this.#pendingDiscontinuity = true;
      this.emit('discontinuity', this.#period, 'restart');
    }
    this.emit('init', this.#init);
  }

  onFragment(frag: FragmentInfo, bytes: Buffer, now: number): void {
    const init = this.#init;
    if (!init) throw new Error('fragment before init'); // the reader guarantees this
    const ts = init.info.timescale;
    if (this.#expectedTime !== undefined) {
      const gap = frag.decodeTime - this.#expectedTime;
      if (gap < -ts / 100 || gap > (this.#opts.maxTimestampGapMs * ts) / 1000) {
        // Same init, but time jumped: a discontinuity under a new sequence number.
        this.#closeCurrent();
        this.#period++;
        this.#init = { ...init, period: this.#period };
        this.#anchor = undefined;
        this.#pendingDiscontinuity = true;
        this.emit('discontinuity', this.#period, 'timestamp-jump');
        this.emit('init', this.#init);
      }
    }
    this.#expectedTime = frag.decodeTime + frag.duration;
    if (!this.#anchor) {
      // The fragment just completed, so its first sample was captured one duration ago.
      const proposed = { wallMs: now - (frag.duration * 1000) / ts, mediaSeconds: frag.decodeTime / ts };
      this.#anchor = this.#opts.anchor ? this.#opts.anchor(this.#period, proposed) : proposed;
    }

    const segTicks = (this.#opts.segmentTargetMs * ts) / 1000;
    let seg = this.#current;
    if (seg) {
      // Keyframes that are not ours (passthrough) may come later than the target: a segment
      // runs to the next one, capped at 3 targets. Playlists follow (Track.targetDuration).
      const tooLong = seg.duration >= 3 * segTicks;
      const cut =
        init.info.kind === 'video'
          ? frag.keyframe
          : Math.floor((frag.decodeTime + frag.duration / 2) / segTicks) !== Math.floor((seg.start + (seg.parts[0]?.duration ?? 0) / 2) / segTicks);
      if (cut || tooLong) {
        this.#closeCurrent();
        seg = undefined;
      }
    }
    if (!seg) {
      seg = {
        msn: this.#nextMsn++,
        period: this.#period,
        discontinuity: this.#pendingDiscontinuity,
        discontinuitySequence: this.#pendingDiscontinuity ? ++this.#dsn : this.#dsn,
        start: frag.decodeTime,
        duration: 0,
        timescale: ts,
        programDateTime: Math.round(this.#anchor.wallMs + (frag.decodeTime / ts - this.#anchor.mediaSeconds) * 1000),
        parts: [],
        byteLength: 0,
        complete: false,
        bytes: undefined,
      };
      this.#pendingDiscontinuity = false;
      this.#current = seg;
    }
    const part: Part = {
      msn: seg.msn,
      index: seg.parts.length,
      start: frag.decodeTime,
      duration: frag.duration,
      independent: frag.keyframe,
      bytes,
    };
    seg.parts.push(part);
    seg.duration = frag.decodeTime + frag.duration - seg.start;
    seg.byteLength += bytes.length;
    this.emit('part', seg, part);
  }

  /**
   * Whether the next part will most likely start a new segment: what a preload
   * hint must name (part 0 of the next segment, not an index that never comes;
   * Shaka fetches hints and takes a 404 on audio as fatal). Video: the encoder
   * puts a keyframe every segment target, so once the segment is within half a
   * part of it. Audio: the same time-grid rule `onFragment` cuts by, applied to
   * a next part as long as the last one. A GOP longer than the target (not ours)
   * only costs the hints until its keyframe: a wrong hint would be a 404.
   */
  nextPartStartsSegment(): boolean {
    const seg = this.#current;
    const init = this.#init;
    const last = seg?.parts[seg.parts.length - 1];
    if (!seg || !init || !last) return true;
    const segTicks = (this.#opts.segmentTargetMs * init.info.timescale) / 1000;
    if (init.info.kind === 'video') return seg.duration + last.duration / 2 >= segTicks;
    const nextStart = seg.start + seg.duration;
    return Math.floor((nextStart + last.duration / 2) / segTicks) !== Math.floor((seg.start + (seg.parts[0]?.duration ?? 0) / 2) / segTicks);
  }

  /** The source ended (or the broadcast ends): complete the segment in progress. */
  flush(): void {
    this.#closeCurrent();
  }

  #closeCurrent(): void {
    const seg = this.#current;
    if (!seg) return;
    this.#current = undefined;
    seg.complete = true;
    seg.bytes = Buffer.concat(seg.parts.map((p) => p.bytes));
    this.emit('segment', seg);
  }
}
