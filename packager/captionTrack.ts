/**
 * The captions of one broadcast: the cues posted so far and the files of the
 * subtitle rendition, built against a reference media track (segment for
 * segment, part for part; see captions.ts). A file covers a range that is
 * already out, and a cue is never placed before the live edge, so a file's
 * text never changes once its range exists: files are rendered on request
 * and may be cached as immutable.
 */
import type { Segment } from './types.ts';
import { placeCue, webvttFile, captionsVtt, type Cue, type CueInput, type VttTimeMap } from './captions.ts';
import { WVTT_TIMESCALE, wvttInit, wvttSegment, wvttTicks } from './wvtt.ts';
import type { HlsSegment, MediaPlaylist } from './hls.ts';

/** What a caption file needs of the reference track. */
export interface CaptionReference {
  readonly current: Segment | undefined;
  segment(msn: number): Segment | undefined;
  readonly periodStarts: ReadonlyMap<number, { pdt: number }>;
}

/** The live captions playlist's least TARGETDURATION (see `playlist`). */
export const CAPTIONS_LIVE_TARGET_DURATION = 3;

export type CaptionUpload = 'pending' | 'stored' | 'dropped' | 'failed';

export class CaptionTrack {
  readonly language: string;
  readonly name: string;
  readonly #cues: Cue[] = [];
  readonly #given: { start: number; end: number }[] = [];
  #next = 0;
  /** Store uploads of the HLS and DASH segments, by msn (both must settle before a stored manifest names them). */
  readonly uploads = new Map<number, { vtt: CaptionUpload; wvtt: CaptionUpload }>();
  readonly initUploads = new Map<number, CaptionUpload>();
  playlistStored = false;

  constructor(language: string, name: string) {
    this.language = language;
    this.name = name;
  }

  get cues(): readonly Cue[] {
    return this.#cues;
  }

  /** The live edge on the broadcast clock: the end of the reference track's newest part (or `now` before any). */
  static edge(ref: CaptionReference | undefined, now: number): number {
    const cur = ref?.current;
    const last = cur?.parts.at(-1);
    if (!cur || !last) return now;
    return cur.programDateTime + ((last.start + last.duration - cur.start) / cur.timescale) * 1000;
  }

  /** Checks and places a cue (captions.ts `placeCue`): InputError with a 4xx status when it is refused. */
  add(input: CueInput, now: number, ref: CaptionReference | undefined): Cue {
    const { cue, given, index } = placeCue(this.#cues, this.#given, input, `cue-${this.#next}`, now, CaptionTrack.edge(ref, now));
    this.#next++;
    this.#cues.splice(index, 0, cue);
    this.#given.splice(index, 0, given);
    return cue;
  }

  #map(ref: CaptionReference, seg: Segment): VttTimeMap {
    return { mediaSeconds: seg.start / seg.timescale, wallMs: seg.programDateTime, originMs: ref.periodStarts.get(seg.period)?.pdt ?? seg.programDateTime };
  }

  /** The WebVTT segment `msn` (its reference segment complete), else undefined. */
  vttSegment(ref: CaptionReference, msn: number): string | undefined {
    const seg = ref.segment(msn);
    if (!seg?.complete) return undefined;
    return webvttFile(this.#cues, seg.programDateTime, seg.programDateTime + (seg.duration / seg.timescale) * 1000, this.#map(ref, seg));
  }

  /** The WebVTT part `msn.index` (its reference part landed), else undefined. */
  vttPart(ref: CaptionReference, msn: number, index: number): string | undefined {
    const seg = ref.segment(msn);
    const part = seg?.parts[index];
    if (!seg || !part) return undefined;
    const from = seg.programDateTime + ((part.start - seg.start) / seg.timescale) * 1000;
    return webvttFile(this.#cues, from, from + (part.duration / seg.timescale) * 1000, this.#map(ref, seg));
  }

  /** The DASH (wvtt) init segment (ms timescale, so one serves every source session). */
  wvttInit(): Buffer {
    return wvttInit(WVTT_TIMESCALE, this.language.split('-')[0]);
  }

  /** The DASH (wvtt) segment `msn` (its reference segment complete), else undefined. */
  wvttSegment(ref: CaptionReference, msn: number): Buffer | undefined {
    const seg = ref.segment(msn);
    if (!seg?.complete) return undefined;
    const start = wvttTicks(seg.start, seg.timescale);
    const end = wvttTicks(seg.start + seg.duration, seg.timescale);
    return wvttSegment(this.#cues, { sequence: msn + 1, start, duration: end - start, timescale: WVTT_TIMESCALE, wallMs: seg.programDateTime });
  }

  /** The whole recording's captions, on the media time from `startMs` (the first segment). */
  wholeVtt(startMs: number): string {
    return captionsVtt(this.#cues, startMs);
  }

  /**
   * The subtitle playlist from the reference track's: the same segments,
   * parts, discontinuities and times, naming WebVTT files; no EXT-X-MAP, no
   * rendition reports; parts on the newest segments only. `stored`: cut at the first segment whose caption
   * uploads have not settled (a stored playlist names only what is stored).
   */
  playlist(ref: MediaPlaylist, stored = false): MediaPlaylist | undefined {
    const vtt = (uri: string) => uri.replace(/\.m4s$/, '.vtt');
    // Parts only on the open segment and the last complete one (at least PART-HOLD-BACK of them): a
    // player's subtitle loader that starts behind the edge (hls.js starts at the playhead, and then
    // takes one file per playlist update) catches up by whole segments instead of trailing for good.
    const lastComplete = ref.segments.findLastIndex((s) => s.complete);
    const segments: HlsSegment[] = [];
    for (const [i, s] of ref.segments.entries()) {
      const up = this.uploads.get(ref.mediaSequence + i);
      if (stored && (!up || up.vtt === 'pending' || up.wvtt === 'pending')) break;
      const { mapUri: _map, parts, ...rest } = s;
      segments.push({
        ...rest,
        uri: vtt(s.uri),
        ...(parts && i >= lastComplete ? { parts: parts.map((p) => ({ ...p, uri: vtt(p.uri) })) } : {}),
        ...(stored && up!.vtt !== 'stored' ? { gap: true } : {}),
      });
    }
    if (stored && segments.length === 0) return undefined;
    const { dateRanges: _dr, ...rest } = ref;
    // Live, a TARGETDURATION of at least 3 (its segments stay those of the reference): hls.js gives
    // up on a blocking reload after max(3 × PART-TARGET, 0.8 × TARGETDURATION) and counts the
    // timeouts of the video, audio and subtitle playlists against one budget (2 retries), so with
    // the reference's 1 a source restart of more than ~0.8 s made the third timeout fatal.
    const td = ref.serverControl ? Math.max(ref.targetDuration, CAPTIONS_LIVE_TARGET_DURATION) : ref.targetDuration;
    const serverControl = ref.serverControl && { ...ref.serverControl, holdBack: 3 * td, ...(ref.serverControl.canSkipUntil !== undefined ? { canSkipUntil: 6 * td } : {}) };
    return {
      ...rest,
      targetDuration: td,
      ...(serverControl ? { serverControl } : {}),
      segments,
      ...(ref.preloadHint ? { preloadHint: { ...ref.preloadHint, uri: vtt(ref.preloadHint.uri) } } : {}),
      renditionReports: [],
      // The reference playlist cut at the same point may still list more; ENDLIST only when all is named.
      endList: ref.endList && segments.length === ref.segments.length,
    };
  }
}
