/**
 * The broadcast's timeline: who speaks, who joins and leaves, which layout is
 * on, as points on the broadcast's clock (the PROGRAM-DATE-TIME wall clock).
 * Pure: events in, HLS date ranges, DASH events and WebVTT chapters out.
 *
 * `speaker` and `layout` events last until the next of their kind (HLS
 * `END-ON-NEXT=YES`, RFC 8216bis §4.4.5.1); `host` events are points
 * (`DURATION=0`).
 */
import type { HlsDateRange } from './hls.ts';
import type { DashEvent } from './dash.ts';

export type TimelineKind = 'speaker' | 'host' | 'layout';

export interface TimelineEvent {
  /** Unique in the broadcast: the date range's ID and the DASH event's id. */
  readonly id: string;
  readonly kind: TimelineKind;
  /** ms since the epoch, on the broadcast's clock. */
  readonly at: number;
  /**
   * What the event says, by lower-case name (`host-id`, `host-name`,
   * `action`, `layout`): each becomes an `X-` attribute in HLS.
   */
  readonly attributes: Readonly<Record<string, string>>;
}

/** HLS CLASS (and DASH EventStream value) per kind: reverse-DNS, as RFC 8216bis asks of CLASS. */
export const TIMELINE_CLASSES: Readonly<Record<TimelineKind, string>> = {
  speaker: 'com.stagecast.speaker',
  host: 'com.stagecast.host',
  layout: 'com.stagecast.layout',
};

/** The DASH EventStream scheme of the timeline's events. */
export const TIMELINE_SCHEME = 'urn:stagecast:timeline:2026';

const ATTRIBUTE_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const lasting = (kind: TimelineKind): boolean => kind !== 'host';

/**
 * Checks an event and returns it with its text made safe for a quoted-string
 * (no `"`, CR or LF, at most 200 characters): host names come from users.
 * TypeError on a malformed event.
 */
export function checkTimelineEvent(e: TimelineEvent): TimelineEvent {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(e.id)) throw new TypeError(`invalid timeline event id ${JSON.stringify(e.id)}`);
  if (!(e.kind in TIMELINE_CLASSES)) throw new TypeError(`invalid timeline event kind ${JSON.stringify(e.kind)}`);
  if (!Number.isFinite(e.at) || e.at <= 0) throw new TypeError(`invalid timeline event time ${e.at}`);
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(e.attributes)) {
    if (!ATTRIBUTE_NAME.test(k)) throw new TypeError(`invalid timeline attribute name ${JSON.stringify(k)}`);
    if (typeof v !== 'string') throw new TypeError(`timeline attribute ${k} must be a string`);
    attributes[k] = v.replace(/["\r\n]/g, "'").slice(0, 200);
  }
  return { id: e.id, kind: e.kind, at: Math.round(e.at), attributes };
}

/** When each event ends: the next event of its kind (lasting kinds), its own time (points), or undefined (still on). */
function ends(events: readonly TimelineEvent[]): (number | undefined)[] {
  return events.map((e, i) => {
    if (!lasting(e.kind)) return e.at;
    for (let j = i + 1; j < events.length; j++) if (events[j]!.kind === e.kind) return events[j]!.at;
    return undefined;
  });
}

/**
 * The date ranges a media playlist lists: every event still on at `fromMs`
 * (the first listed segment's PROGRAM-DATE-TIME), in time order. Events must
 * come sorted by time.
 */
export function timelineDateRanges(events: readonly TimelineEvent[], fromMs = -Infinity): HlsDateRange[] {
  const end = ends(events);
  return events
    .filter((_, i) => end[i] === undefined || end[i]! >= fromMs)
    .map((e) => ({
      id: e.id,
      class: TIMELINE_CLASSES[e.kind],
      startDate: e.at,
      ...(lasting(e.kind) ? { endOnNext: true } : { duration: 0 }),
      clientAttributes: e.attributes,
    }));
}

/**
 * DASH events of a Period that starts at `periodStartMs` on the wall clock
 * (and ends at `periodEndMs`, if another follows): presentation times in ms
 * from the Period's start. A lasting event still on when the Period starts
 * is repeated at its start, so a client joining there knows it.
 */
export function timelineDashEvents(events: readonly TimelineEvent[], periodStartMs: number, periodEndMs = Infinity): Map<TimelineKind, DashEvent[]> {
  const end = ends(events);
  const out = new Map<TimelineKind, DashEvent[]>();
  events.forEach((e, i) => {
    const stop = end[i];
    if (e.at >= periodEndMs) return;
    if (lasting(e.kind) ? stop !== undefined && stop <= periodStartMs : e.at < periodStartMs) return;
    const from = Math.max(e.at, periodStartMs);
    const to = stop === undefined ? undefined : Math.min(stop, periodEndMs);
    const list = out.get(e.kind) ?? [];
    list.push({
      id: e.id,
      presentationTime: from - periodStartMs,
      ...(to !== undefined ? { duration: to - from } : {}),
      messageData: JSON.stringify(e.attributes),
    });
    out.set(e.kind, list);
  });
  return out;
}

/** A WebVTT timestamp (`hh:mm:ss.mmm`) of `ms`, clamped at 0. */
export function vttTime(ms: number): string {
  const t = Math.max(0, Math.round(ms));
  const h = Math.floor(t / 3_600_000);
  const m = Math.floor((t % 3_600_000) / 60_000);
  const s = Math.floor((t % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(t % 1000, 3)}`;
}

/**
 * The VOD's chapters as WebVTT (`<track kind="chapters">`): one cue per
 * speaker turn, named for the speaker, on the recording's media time (ms from
 * `startMs`, the first segment's PROGRAM-DATE-TIME) until `endMs`. Turns of
 * the same speaker in a row merge.
 */
export function timelineChaptersVtt(events: readonly TimelineEvent[], startMs: number, endMs: number): string {
  const turns = events.filter((e) => e.kind === 'speaker');
  const cues: { from: number; to: number; name: string; hostId: string }[] = [];
  turns.forEach((e, i) => {
    const from = Math.max(e.at, startMs);
    const to = Math.min(turns[i + 1]?.at ?? endMs, endMs);
    if (to <= from) return;
    const hostId = e.attributes['host-id'] ?? '';
    const name = (e.attributes['host-name'] || hostId || 'speaker').replace(/-->/g, '→');
    const last = cues.at(-1);
    if (last && last.hostId === hostId && last.to >= from) last.to = to;
    else cues.push({ from, to, name, hostId });
  });
  return ['WEBVTT', '', ...cues.flatMap((c, i) => [`chapter-${i + 1}`, `${vttTime(c.from - startMs)} --> ${vttTime(c.to - startMs)}`, c.name, ''])].join('\n');
}
