/**
 * Thumbnails of a broadcast: one JPEG per segment from the transcoder, named
 * `thumb-<run>-<index>.jpg` (stable from arrival: no segment lookup
 * needed to store them), and the WebVTT thumbnails track players' seek bars
 * read (`thumbnails.vtt`: a cue per segment on the playlist's timeline, the
 * cue text the image's URL relative to the track, as JW Player, video.js
 * plugins, Bitmovin and Shaka take it). Pure.
 */
import { vttTime } from './timeline.ts';

/** A thumbnail as the broadcast indexes it (the bytes are kept apart, for the recent ones only). */
export interface ThumbnailRef {
  readonly run: number;
  /** Media time of the picture, ms, on the run's timeline (index × segment duration). */
  readonly mediaMs: number;
  readonly name: string;
}

/** A segment as the thumbnails track needs it. */
export interface ThumbnailSegment {
  readonly run: number;
  readonly start: number;
  readonly duration: number;
  readonly timescale: number;
}

export const thumbnailName = (run: number, index: number): string => `thumb-${run}-${index}.jpg`;

/** `thumb-<run>-<index>.jpg` → its parts; undefined for any other name. */
export function parseThumbnailName(name: string): { run: number; index: number } | undefined {
  const m = /^thumb-(\d{1,9})-(\d{1,9})\.jpg$/.exec(name);
  return m ? { run: Number(m[1]), index: Number(m[2]) } : undefined;
}

/** Whether the bytes are a JPEG (SOI and a marker), the only thing stored under a thumbnail's name. */
export function isJpeg(bytes: Buffer): boolean {
  return bytes.length > 4 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/** Thumbnails by transcoder run, each list in media-time order: what thumbnailFor searches. */
export function thumbnailsByRun(thumbs: readonly ThumbnailRef[]): Map<number, ThumbnailRef[]> {
  const byRun = new Map<number, ThumbnailRef[]>();
  for (const t of thumbs) {
    const list = byRun.get(t.run);
    if (list) list.push(t);
    else byRun.set(t.run, [t]);
  }
  for (const list of byRun.values()) list.sort((a, b) => a.mediaMs - b.mediaMs);
  return byRun;
}

/**
 * The thumbnail of a segment: the first of its run whose picture falls in
 * it, else none (that segment's cue is left out). A binary search: a day's
 * recording has tens of thousands of both.
 */
export function thumbnailFor(seg: ThumbnailSegment, byRun: ReadonlyMap<number, readonly ThumbnailRef[]>): ThumbnailRef | undefined {
  const list = byRun.get(seg.run);
  if (!list) return undefined;
  // The encoder and the muxer may put the picture a few ms before the keyframe's timestamp.
  const from = (seg.start / seg.timescale) * 1000 - 50;
  const to = ((seg.start + seg.duration) / seg.timescale) * 1000 - 50;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.mediaMs < from) lo = mid + 1;
    else hi = mid;
  }
  const t = list[lo];
  return t && t.mediaMs < to ? t : undefined;
}

/**
 * The WebVTT thumbnails track over `segments` (in playlist order): cue i spans
 * segment i on the playlist's timeline (the sum of the durations before it,
 * which is where a player's seek bar has it, across discontinuities too).
 */
export function thumbnailsVtt(segments: readonly ThumbnailSegment[], thumbs: readonly ThumbnailRef[], prefix = 'thumbs/'): string {
  const byRun = thumbnailsByRun(thumbs);
  const out = ['WEBVTT', ''];
  let at = 0;
  for (const s of segments) {
    const ms = (s.duration / s.timescale) * 1000;
    const t = thumbnailFor(s, byRun);
    if (t) out.push(`${vttTime(at)} --> ${vttTime(at + ms)}`, `${prefix}${t.name}`, '');
    at += ms;
  }
  return out.join('\n');
}
