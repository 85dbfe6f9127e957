// Seek-bar previews in a recording: the WebVTT thumbnails track beside the
// playlist (thumbnails.vtt, one cue per segment naming its JPEG), shown above a
// scrub bar while it is moved. Runs in the browser; bundled with the viewer page.

export interface ThumbnailCue {
  /** Seconds on the playlist's timeline. */
  start: number;
  end: number;
  /** Absolute URL of the image. */
  url: string;
}

const CUE = /^(\d+):(\d{2}):(\d{2})\.(\d{3}) --> (\d+):(\d{2}):(\d{2})\.(\d{3})/;
const seconds = (h: string, m: string, s: string, ms: string) => (Number(h) * 60 + Number(m)) * 60 + Number(s) + Number(ms) / 1000;

/** The cues of a WebVTT thumbnails track, image URLs resolved against the track's own URL. */
export function parseThumbnails(vtt: string, base: string): ThumbnailCue[] {
  const out: ThumbnailCue[] = [];
  const lines = vtt.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const m = CUE.exec(lines[i]!);
    const text = lines[i + 1]?.trim();
    if (!m || !text) continue;
    out.push({ start: seconds(m[1]!, m[2]!, m[3]!, m[4]!), end: seconds(m[5]!, m[6]!, m[7]!, m[8]!), url: new URL(text, base).href });
  }
  return out;
}

/** The cue showing time `t` (the last one starting by then). */
export function thumbnailAt(cues: readonly ThumbnailCue[], t: number): ThumbnailCue | undefined {
  let hit: ThumbnailCue | undefined;
  for (const c of cues) if (c.start <= t) hit = c;
  return hit;
}
