/**
 * Live captions: the rules a cue must meet, where it is placed on the
 * broadcast's clock, and the WebVTT files of the subtitle rendition. Pure: cues
 * and times in, placed cues and text out; no clocks (`now` is passed in).
 *
 * The rendition mirrors a reference media track segment for segment and part
 * for part (same numbers, durations, discontinuities and PROGRAM-DATE-TIMEs),
 * so a player that reads the media playlist reads the subtitle one the same
 * way, parts included. Each file is segmented WebVTT with an
 * `X-TIMESTAMP-MAP` (RFC 8216bis §3.1.4) that ties its cue times to the
 * reference track's media time at the file's start: the timeline and the
 * cues then stay on the broadcast clock across discontinuities.
 */
import { InputError } from '../common/index.ts';
import { vttTime } from './timeline.ts';

/** A cue as placed on the broadcast: times are ms since the epoch on the PROGRAM-DATE-TIME clock. */
export interface Cue {
  /** Unique in the broadcast; repeated in every file the cue spans, so players add it once. */
  readonly id: string;
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly speaker?: string;
  /** How far the cue was moved later to land at the live edge (ms, 0 if not). */
  readonly shiftedMs: number;
  /**
   * The live edge when the cue was placed: files of ranges that ended by then
   * were already out, and stay as they were (immutable); later ones carry it.
   */
  readonly edgeMs: number;
}

/** A cue as a captioner sends it; times on the broadcast clock (see `placeCue`). */
export interface CueInput {
  readonly text: string;
  /** ms since the epoch, or an ISO 8601 date-time; absent: now. */
  readonly start?: number | string;
  /** ms since the epoch, or an ISO 8601 date-time; or give `duration`. */
  readonly end?: number | string;
  /** ms, instead of `end`. */
  readonly duration?: number;
  readonly speaker?: string;
}

export const CAPTION_LIMITS = {
  /** Characters of cue text (a caption is read in a few seconds; broadcast rules allow ~2 × 42). */
  maxTextChars: 500,
  maxLines: 4,
  maxSpeakerChars: 64,
  /** The longest a cue may stay on screen. */
  maxDurationMs: 20_000,
  /** How far behind the live edge a cue may start (it is then moved to the edge). */
  maxLateMs: 30_000,
  /** How far ahead of now a cue may start. */
  maxEarlyMs: 30_000,
} as const;

function time(value: number | string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'number' ? value : /^\d{4}-\d\d-\d\dT/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms) || ms <= 0) throw new InputError('bad-cue', `${what} must be ms since the epoch or an ISO 8601 date-time`);
  return Math.round(ms);
}

/** Control characters other than line feed and tab. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** Checks a cue's text and speaker: trimmed text, LF line breaks; InputError (400, 413) otherwise. */
function checkText(input: CueInput): { text: string; speaker?: string } {
  if (typeof input.text !== 'string') throw new InputError('bad-cue', 'text must be a string');
  const text = input.text.replace(/\r\n?/g, '\n').trim();
  if (text.length === 0) throw new InputError('bad-cue', 'text is empty');
  if (text.length > CAPTION_LIMITS.maxTextChars) throw new InputError('cue-too-large', `text is ${text.length} characters; at most ${CAPTION_LIMITS.maxTextChars}`, 413);
  if (CONTROL.test(text)) throw new InputError('bad-cue', 'text has control characters');
  const lines = text.split('\n');
  if (lines.length > CAPTION_LIMITS.maxLines) throw new InputError('bad-cue', `text has ${lines.length} lines; at most ${CAPTION_LIMITS.maxLines}`);
  // A blank line ends a WebVTT cue, and `-->` starts a timing line.
  if (lines.some((l) => l.trim() === '')) throw new InputError('bad-cue', 'text has a blank line');
  if (text.includes('-->')) throw new InputError('bad-cue', 'text contains "-->"');
  if (input.speaker === undefined) return { text };
  if (typeof input.speaker !== 'string' || input.speaker.trim() === '' || input.speaker.length > CAPTION_LIMITS.maxSpeakerChars || CONTROL.test(input.speaker) || input.speaker.includes('\n')) {
    throw new InputError('bad-cue', `speaker must be one line of 1–${CAPTION_LIMITS.maxSpeakerChars} characters`);
  }
  return { text, speaker: input.speaker.trim() };
}

/**
 * Places a cue on the broadcast: checks it (InputError with a 4xx status) and
 * returns where it goes. `edgeMs` is the live edge (the end of the newest
 * part, on the PROGRAM-DATE-TIME clock): files up to it are already out, so
 * the cue is in the files after it. A cue that began before the edge keeps
 * its times (players sit behind the edge: they show it from its start); one
 * that would end by the edge is moved to start there, keeping its duration:
 * captions come late rather than never. Cues may not overlap, as given (409);
 * after a move a cue starts no earlier than the previous one ends.
 */
export function placeCue(previous: readonly Cue[], given: readonly { start: number; end: number }[], input: CueInput, id: string, now: number, edgeMs: number): { cue: Cue; given: { start: number; end: number }; index: number } {
  const { text, speaker } = checkText(input);
  const start = time(input.start, 'start') ?? now;
  let end = time(input.end, 'end');
  if (end === undefined) {
    if (input.duration === undefined) throw new InputError('bad-cue', 'give end or duration');
    if (typeof input.duration !== 'number' || !Number.isFinite(input.duration)) throw new InputError('bad-cue', 'duration must be a number of ms');
    end = start + Math.round(input.duration);
  } else if (input.duration !== undefined) {
    throw new InputError('bad-cue', 'give end or duration, not both');
  }
  if (end <= start) throw new InputError('bad-cue', `end (${end}) must be after start (${start})`);
  if (end - start > CAPTION_LIMITS.maxDurationMs) throw new InputError('bad-cue', `a cue lasts at most ${CAPTION_LIMITS.maxDurationMs} ms; this one ${end - start} ms`);
  if (start < edgeMs - CAPTION_LIMITS.maxLateMs) {
    throw new InputError('cue-too-late', `start ${new Date(start).toISOString()} is ${Math.round((edgeMs - start) / 1000)} s behind the live edge (${new Date(edgeMs).toISOString()}); at most ${CAPTION_LIMITS.maxLateMs / 1000} s`, 422);
  }
  if (start > now + CAPTION_LIMITS.maxEarlyMs) {
    throw new InputError('cue-too-early', `start ${new Date(start).toISOString()} is ${Math.round((start - now) / 1000)} s ahead of now; at most ${CAPTION_LIMITS.maxEarlyMs / 1000} s`, 422);
  }
  const overlapping = (s0: number, e0: number, ranges: readonly { start: number; end: number }[]) => ranges.findIndex((g) => g.start < e0 && s0 < g.end);
  const asGiven = overlapping(start, end, given);
  if (asGiven >= 0) {
    const g = given[asGiven]!;
    throw new InputError('cue-overlap', `cue overlaps ${previous[asGiven]!.id} (${new Date(g.start).toISOString()} to ${new Date(g.end).toISOString()}); cues may not overlap`, 409);
  }
  const edge = Math.round(edgeMs);
  let placedStart = start;
  if (end <= edge) {
    // Too late for any file still to come: from the edge on, after any cue placed there.
    placedStart = edge;
    for (let hit = overlapping(placedStart, placedStart + end - start, previous); hit >= 0; hit = overlapping(placedStart, placedStart + end - start, previous)) placedStart = previous[hit]!.end;
  } else {
    const hit = overlapping(start, end, previous);
    if (hit >= 0) throw new InputError('cue-overlap', `cue overlaps ${previous[hit]!.id} as placed (it came late and was moved to ${new Date(previous[hit]!.start).toISOString()}); cues may not overlap`, 409);
  }
  const cue: Cue = { id, start: placedStart, end: placedStart + (end - start), text, ...(speaker ? { speaker } : {}), shiftedMs: placedStart - start, edgeMs: edge };
  // Kept in start order (placed cues do not overlap, so ends are in order too): files find theirs by binary search.
  let index = previous.length;
  while (index > 0 && previous[index - 1]!.start > cue.start) index--;
  return { cue, given: { start, end }, index };
}

const escapeText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The cue's payload: its text, in a voice span when a speaker is named (WebVTT §4.2.2). */
export function cuePayload(cue: Cue): string {
  const text = escapeText(cue.text);
  return cue.speaker ? `<v ${escapeText(cue.speaker)}>${text}</v>` : text;
}

/** Where a file sits: media time `mediaSeconds` of the reference track is at wall clock `wallMs`. */
export interface VttTimeMap {
  readonly mediaSeconds: number;
  readonly wallMs: number;
  /** Cue times in the file count from here (the source session's start), so none is negative. */
  readonly originMs: number;
}

/**
 * The cues a file of [fromMs, toMs) carries, in order (a binary search, then a
 * short scan): those that show during it and were placed before it ended.
 */
export function cuesIn(cues: readonly Cue[], fromMs: number, toMs: number): Cue[] {
  const end = Math.round(toMs);
  // Cues do not overlap and are placed in order: start and end both increase.
  let lo = 0;
  let hi = cues.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cues[mid]!.end <= fromMs) lo = mid + 1;
    else hi = mid;
  }
  const out: Cue[] = [];
  for (let i = lo; i < cues.length && cues[i]!.start < toMs; i++) if (cues[i]!.edgeMs < end) out.push(cues[i]!);
  return out;
}

/** The 33-bit 90 kHz MPEG-2 timestamp of a media time, as X-TIMESTAMP-MAP takes it. */
export function mpegTs(seconds: number): number {
  return Math.round(seconds * 90_000) % 2 ** 33;
}

/**
 * One segmented WebVTT file (a segment or a part) of the subtitle rendition:
 * the cues that show during [fromMs, toMs). A cue spanning several files is
 * in each, under the same id.
 */
export function webvttFile(cues: readonly Cue[], fromMs: number, toMs: number, map: VttTimeMap): string {
  const local = (ms: number) => vttTime(ms - map.originMs);
  const out = ['WEBVTT', `X-TIMESTAMP-MAP=MPEGTS:${mpegTs(map.mediaSeconds)},LOCAL:${local(map.wallMs)}`, ''];
  for (const c of cuesIn(cues, fromMs, toMs)) out.push(c.id, `${local(c.start)} --> ${local(c.end)}`, cuePayload(c), '');
  return out.join('\n');
}

/** The whole recording's captions as one WebVTT file, on the media time from `startMs` (the first segment). */
export function captionsVtt(cues: readonly Cue[], startMs: number): string {
  const out = ['WEBVTT', ''];
  for (const c of cues) if (c.end > startMs) out.push(c.id, `${vttTime(c.start - startMs)} --> ${vttTime(c.end - startMs)}`, cuePayload(c), '');
  return out.join('\n');
}
