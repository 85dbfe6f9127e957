// The viewer's view of the broadcast's timeline: who is speaking at the frame on
// screen (from the playlist's EXT-X-DATERANGE speaker turns, as hls.js parses
// them) and, in a recording, its chapters (chapters.vtt beside the playlist),
// each seeking to its turn. Runs in the browser; bundled with the viewer page.
import type Hls from 'hls.js';

const SPEAKER_CLASS = 'com.stagecast.speaker';

/** The speaker's name (or id) at `date`: the newest speaker turn that started by then. */
export function speakerAt(h: Hls, date: Date): string | undefined {
  const level = h.levels[h.currentLevel >= 0 ? h.currentLevel : 0];
  let best: { start: number; name: string } | undefined;
  for (const d of Object.values(level?.details?.dateRanges ?? {})) {
    if (!d || d.class !== SPEAKER_CLASS) continue;
    const start = d.startDate.getTime();
    if (start > date.getTime() || (best && best.start > start)) continue;
    const name = d.attr['X-HOST-NAME'] ?? d.attr['X-HOST-ID'];
    if (typeof name === 'string') best = { start, name };
  }
  return best?.name;
}

export interface Chapter {
  /** ms from the recording's first segment. */
  startMs: number;
  title: string;
}

const VTT_TIMING = /^(\d+):(\d{2}):(\d{2})\.(\d{3}) --> (\d+):(\d{2}):(\d{2})\.(\d{3})/;
const ms = (h: string, m: string, s: string, milli: string) => ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000 + Number(milli);

/** The cues of a WebVTT file as our tracks write them: start and end (ms) and the first line of text. */
export function parseVttCues(vtt: string): { startMs: number; endMs: number; text: string }[] {
  const out: { startMs: number; endMs: number; text: string }[] = [];
  const lines = vtt.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const m = VTT_TIMING.exec(lines[i]!);
    if (!m) continue;
    out.push({ startMs: ms(m[1]!, m[2]!, m[3]!, m[4]!), endMs: ms(m[5]!, m[6]!, m[7]!, m[8]!), text: lines[i + 1]?.trim() ?? '' });
  }
  return out;
}

/** The cues of a WebVTT chapters file: start and title. */
export function parseChapters(vtt: string): Chapter[] {
  return parseVttCues(vtt).map((c, i) => ({ startMs: c.startMs, title: c.text || `Chapter ${i + 1}` }));
}

/**
 * Media time (s) of a chapter: chapters count from the first segment's
 * PROGRAM-DATE-TIME, so the chapter's wall clock is mapped through the
 * fragment holding it (FFmpeg restarts leave gaps in wall time, not in media).
 */
export function chapterMediaTime(h: Hls, chapter: Chapter): number | undefined {
  const level = h.levels[h.currentLevel >= 0 ? h.currentLevel : 0];
  const frags = level?.details?.fragments ?? [];
  const first = frags[0]?.programDateTime;
  if (first === null || first === undefined) return undefined;
  const wall = first + chapter.startMs;
  let hit = frags[0]!;
  for (const f of frags) if (f.programDateTime !== null && f.programDateTime <= wall) hit = f;
  return hit.start + Math.max(0, (wall - hit.programDateTime!) / 1000);
}
