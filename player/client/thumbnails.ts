// Seek-bar previews in a recording: the WebVTT thumbnails track beside the
// playlist (thumbnails.vtt, one cue per segment naming its JPEG), shown above a
// scrub bar while it is moved. Runs in the browser; bundled with the viewer page.
import { parseVttCues } from './timeline.ts';

export interface ThumbnailCue {
  /** Seconds on the playlist's timeline. */
  start: number;
  end: number;
  /** Absolute URL of the image. */
  url: string;
}

/** The cues of a WebVTT thumbnails track, image URLs resolved against the track's own URL. */
export function parseThumbnails(vtt: string, base: string): ThumbnailCue[] {
  return parseVttCues(vtt)
    .filter((c) => c.text)
    .map((c) => ({ start: c.startMs / 1000, end: c.endMs / 1000, url: new URL(c.text, base).href }));
}

/** The cue showing time `t` (the last one starting by then). */
export function thumbnailAt(cues: readonly ThumbnailCue[], t: number): ThumbnailCue | undefined {
  let hit: ThumbnailCue | undefined;
  for (const c of cues) if (c.start <= t) hit = c;
  return hit;
}
