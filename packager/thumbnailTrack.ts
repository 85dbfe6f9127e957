/**
 * The thumbnails of one broadcast (thumbnails.ts has the pure rules): every
 * one's name and media time, for the thumbnails track; the bytes of the recent
 * ones (the store has them all); the WebVTT thumbnails track and the poster
 * over a reference video track's segments.
 */
import { InputError } from '../common/index.ts';
import type { PackagerConfig } from './config.ts';
import { names } from './naming.ts';
import { isJpeg, thumbnailFor, thumbnailName, thumbnailsByRun, thumbnailsVtt, type ThumbnailRef, type ThumbnailSegment } from './thumbnails.ts';
import type { Track } from './track.ts';

/** What the thumbnails read of a media track (a Track is one). */
export type ThumbnailSource = Readonly<Pick<Track, 'kind' | 'segments' | 'runOfPeriod'>>;

export class ThumbnailTrack {
  readonly #refs: ThumbnailRef[] = [];
  readonly #names = new Set<string>();
  readonly #bytes = new Map<string, Buffer>();
  /** How many of the newest keep their bytes in memory: about two live windows' worth. */
  readonly #keep: number;
  /** The last thumbnails track, for the broadcast version and thumbnail count it was built at. */
  #vtt: { version: number; count: number; text: string | undefined } | undefined;

  constructor(config: Pick<PackagerConfig, 'liveWindowMs' | 'dvrWindowMs' | 'segmentTargetMs'>) {
    this.#keep = Math.max(30, Math.ceil((2 * Math.max(config.liveWindowMs, config.dvrWindowMs)) / config.segmentTargetMs));
  }

  /**
   * Adds a thumbnail: `index` of its transcoder run, showing media time
   * `mediaMs` of that run. Returns its name, or undefined for a name
   * already there (ignored). TypeError for a malformed ref, InputError for
   * bytes that are not a JPEG or too large.
   */
  add(ref: { run: number; index: number; mediaMs: number }, jpeg: Buffer): string | undefined {
    if (!Number.isInteger(ref.run) || ref.run < 0 || !Number.isInteger(ref.index) || ref.index < 0 || !(ref.mediaMs >= 0)) {
      throw new TypeError(`invalid thumbnail ${JSON.stringify(ref)}`);
    }
    if (!isJpeg(jpeg) || jpeg.length > 1024 * 1024) throw new InputError('bad-thumbnail', `thumbnail ${ref.run}/${ref.index} is not a JPEG of at most 1 MiB`);
    const name = thumbnailName(ref.run, ref.index);
    if (this.#names.has(name)) return undefined;
    this.#names.add(name);
    this.#refs.push({ run: ref.run, mediaMs: ref.mediaMs, name });
    this.#bytes.set(name, jpeg);
    // The recent ones only (Map order is arrival order).
    for (const old of this.#bytes.keys()) {
      if (this.#bytes.size <= this.#keep) break;
      this.#bytes.delete(old);
    }
    return name;
  }

  /** A recent thumbnail's bytes (older ones are in the store). */
  bytes(name: string): Buffer | undefined {
    return this.#bytes.get(name);
  }

  /**
   * The WebVTT thumbnails track over the reference track's segments (the
   * recording's timeline); undefined without thumbnails or video. Built once
   * per `version` of the broadcast (which moves with every part, segment and
   * period of its tracks) and thumbnail count: players poll it, and a long
   * recording's has a cue per segment.
   */
  vtt(tracks: readonly ThumbnailSource[], version: number): string | undefined {
    const hit = this.#vtt;
    if (hit && hit.version === version && hit.count === this.#refs.length) return hit.text;
    const segs = this.#segments(tracks);
    const text = segs ? thumbnailsVtt(segs, this.#refs, `${names.thumbnails}/`) : undefined;
    this.#vtt = { version, count: this.#refs.length, text };
    return text;
  }

  /** The poster: the thumbnail of the third segment (past the start-up), else the newest; its name. */
  poster(tracks: readonly ThumbnailSource[]): string | undefined {
    const segs = this.#segments(tracks);
    if (!segs) return undefined;
    const byRun = thumbnailsByRun(this.#refs);
    for (const s of segs.slice(0, 3).reverse()) {
      const hit = thumbnailFor(s, byRun);
      if (hit) return hit.name;
    }
    return this.#refs.at(-1)!.name;
  }

  /**
   * The reference track's complete segments, each under its source's number
   * (thumbnails are numbered by source). The reference: the first video track
   * with media.
   */
  #segments(tracks: readonly ThumbnailSource[]): ThumbnailSegment[] | undefined {
    const track = tracks.find((t) => t.kind === 'video' && t.segments.some((s) => s.complete));
    if (!track || this.#refs.length === 0) return undefined;
    return track.segments.filter((s) => s.complete).map((s) => ({ run: track.runOfPeriod.get(s.period) ?? -1, start: s.start, duration: s.duration, timescale: s.timescale }));
  }
}
