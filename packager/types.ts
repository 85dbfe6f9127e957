import type { InitInfo } from './cmaf.ts';

export type { InitInfo, FragmentInfo, TrackKind } from './cmaf.ts';

/** A part: one CMAF fragment. Times are integers in the track timescale. */
export interface Part {
  /** Media sequence number of the parent segment. */
  readonly msn: number;
  /** Index within the parent segment. */
  readonly index: number;
  readonly start: number;
  readonly duration: number;
  /** Starts with a keyframe (always true for audio). */
  readonly independent: boolean;
  readonly bytes: Buffer;
}

/** A segment: the run of parts from one independent part to the next. */
export interface Segment {
  readonly msn: number;
  /** Discontinuity sequence number (source session) this segment belongs to. */
  readonly period: number;
  /** First segment after a source restart or a timestamp jump. */
  readonly discontinuity: boolean;
  /**
   * HLS Discontinuity Sequence Number of this segment: the number of
   * discontinuities at or before it. (A session number can skip when a session
   * had no media, so it is not used for this.)
   */
  readonly discontinuitySequence: number;
  readonly start: number;
  duration: number;
  readonly timescale: number;
  /** Wall-clock time of the first sample, ms since the epoch (EXT-X-PROGRAM-DATE-TIME). */
  readonly programDateTime: number;
  readonly parts: Part[];
  byteLength: number;
  complete: boolean;
  /** Upload to the object store: pending, then how it ended (undefined without a store). */
  upload?: 'pending' | 'stored' | 'dropped' | 'failed';
  /** The whole segment's bytes while it is in the memory window (complete segments only). */
  bytes: Buffer | undefined;
}

/** One source session's init segment. */
export interface InitSegment {
  readonly period: number;
  readonly info: InitInfo;
  readonly bytes: Buffer;
}
