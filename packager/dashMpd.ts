/**
 * The MPD model from a broadcast's state (manifestSource.ts): one Period per
 * discontinuity period (the segments of one init segment), the LL-DASH live form (segments addressed by number) and the
 * stored and static forms (an exact SegmentTimeline), the timeline's
 * EventStreams and the captions' wvtt representation. A model only: dash.ts
 * serializes it.
 */
import type { Logger } from '../common/index.ts';
import type { CaptionTrack } from './captionTrack.ts';
import type { DashAdaptationSet, DashPeriod, DashRepresentation, Mpd } from './dash.ts';
import { storedPrefix, type ManifestSource, type ManifestTrack } from './manifestSource.ts';
import { names } from './naming.ts';
import { TIMELINE_CLASSES, TIMELINE_SCHEME, timelineDashEvents } from './timeline.ts';
import type { Segment } from './types.ts';
import { WVTT_TIMESCALE, wvttTicks } from './wvtt.ts';

/**
 * The MPD over the same segment objects: one Period per discontinuity period,
 * SegmentTimeline of complete segments with $Number$ = media sequence number.
 */
export function buildMpd(src: ManifestSource, now: number, opts: { forStore?: boolean } = {}): Mpd | undefined {
  if (!src.expectedReady()) return undefined;
  const cfg = src.config;
  const tracks = src.tracks.filter((t) => t.init && t.segments.some((s) => s.complete));
  if (tracks.length === 0) return undefined;
  /**
   * Wall clock of a period's first segment: on the availability clock (when
   * its media really reaches us), falling back to PROGRAM-DATE-TIME.
   */
  const wallOf = (period: number, anchor: { start: number; timescale: number; pdt: number }): number => {
    const zero = src.availabilityZero(period);
    return zero !== undefined ? Math.round(zero + (anchor.start / anchor.timescale) * 1000) : anchor.pdt;
  };
  const firstPeriod = Math.min(...tracks.flatMap((t) => [...t.periodStarts.keys()]));
  const firstRef = tracks.find((t) => t.kind === 'video' && t.periodStarts.has(firstPeriod)) ?? tracks.find((t) => t.periodStarts.has(firstPeriod))!;
  const ast = wallOf(firstPeriod, firstRef.periodStarts.get(firstPeriod)!);
  const periodNumbers = new Set<number>();
  const windowMs = Math.max(cfg.liveWindowMs, cfg.dvrWindowMs);
  const pick = (t: ManifestTrack): Segment[] => {
    let done = t.segments.filter((s) => s.complete);
    if (opts.forStore) done = storedPrefix(t, done);
    if (src.ended || done.length === 0) return done;
    const last = done[done.length - 1]!;
    const horizon = last.programDateTime - windowMs;
    return done.filter((s) => s.programDateTime >= horizon);
  };
  const picked = new Map(tracks.map((t) => [t.id, pick(t)]));
  /**
   * LL-DASH (DASH-IF low-latency guidelines): the live MPD addresses segments
   * by number (SegmentTemplate@duration, no timeline), so a client works out
   * from its clock when segment n exists, and with availabilityTimeOffset =
   * segment − chunk requests it one chunk after it starts; the origin holds a
   * request that comes a little early and streams the segment as it grows.
   * Our segments sit on the segment-target grid (video: a keyframe every
   * target; audio: cut on the same grid), which number addressing needs.
   * A timeline did not fit: dash.js only requests what its last MPD lists
   * (so each request waited for an MPD refresh), and Shaka takes the end of
   * the last listed segment as the live edge (so announcing the segment in
   * progress sent it ahead of the media into stalls). Stored and ended MPDs
   * keep the exact timeline.
   * Keyframes that are not ours (a publisher's long GOP in passthrough)
   * make segments longer than the target: numbers then no longer follow
   * time, so a client would ask for the wrong segment. Such a track's
   * period falls back to the timeline (with the costs above) for good.
   */
  const numbered = !opts.forStore && !src.ended;
  for (const segs of picked.values()) for (const s of segs) periodNumbers.add(s.period);
  const sorted = [...periodNumbers].sort((a, b) => a - b);
  // Anchor of a period: the video (else first) track's first segment of it.
  const anchorOf = (period: number) =>
    (tracks.find((t) => t.kind === 'video' && t.periodStarts.has(period)) ?? tracks.find((t) => t.periodStarts.has(period))!).periodStarts.get(period)!;
  const captionsRef = src.captionReference;
  const periods: DashPeriod[] = sorted
    .map((period, index) => {
      const anchor = anchorOf(period);
      const anchorSec = anchor.start / anchor.timescale;
      const periodWall = wallOf(period, anchor);
      const next = sorted[index + 1];
      const events = timelineDashEvents(src.timeline, periodWall, next === undefined ? Infinity : wallOf(next, anchorOf(next)));
      const sets: DashAdaptationSet[] = [];
      for (const kind of ['video', 'audio'] as const) {
        const reps = tracks
          .filter((t) => t.kind === kind)
          .map((t) => ({ t, segs: picked.get(t.id)!.filter((s) => s.period === period) }))
          .filter((x) => x.segs.length > 0)
          .map(({ t, segs }) => {
            const info = t.init!.info;
            const ts = info.timescale;
            const targetTicks = Math.round((cfg.segmentTargetMs * ts) / 1000);
            const byNumber = numbered && !src.offGrid.check(t.id, period, segs, targetTicks);
            return {
              id: t.id,
              bandwidth: Math.max(1, Math.round(t.bandwidth)),
              codecs: info.codec,
              ...(info.width ? { width: info.width, height: info.height ?? 0 } : {}),
              ...(t.frameRate ? { frameRate: t.frameRate } : {}),
              ...(info.sampleRate ? { audioSamplingRate: info.sampleRate, channels: info.channels ?? 2 } : {}),
              timescale: ts,
              initialization: `${t.id}/${names.init(period)}`,
              media: `${t.id}/seg-$Number$.m4s`,
              ...(byNumber
                ? (() => {
                    // Number-addressed: segment n of the period starts (n − first) segment targets after its first.
                    const own = t.periodStarts.get(period)!;
                    return { startNumber: own.msn, presentationTimeOffset: own.start, duration: targetTicks, timeline: [] };
                  })()
                : {
                    startNumber: segs[0]!.msn,
                    presentationTimeOffset: Math.round(anchorSec * ts),
                    timeline: segs.map((s) => ({ t: s.start, d: s.duration })),
                  }),
            };
          });
        if (reps.length > 0) {
          sets.push({ id: kind === 'video' ? 0 : 1, contentType: kind, mimeType: kind === 'video' ? 'video/mp4' : 'audio/mp4', representations: reps });
        }
      }
      const text = captionsRef && captionsRepresentation(src.captions, captionsRef, period, sets, opts.forStore === true);
      if (text) sets.push({ id: 2, contentType: 'text', mimeType: 'application/mp4', lang: src.captions!.language, role: 'subtitle', representations: [text] });
      return {
        id: `p${period}`,
        start: Math.max(0, (periodWall - ast) / 1000),
        ...(events.size > 0 ? { eventStreams: [...events].map(([kind, list]) => ({ schemeIdUri: TIMELINE_SCHEME, value: TIMELINE_CLASSES[kind], events: list })) } : {}),
        adaptationSets: sets,
      };
    })
    .filter((p) => p.adaptationSets.length > 0);
  if (periods.length === 0 || [...picked.values()].every((p) => p.length === 0)) return undefined;
  // A loop, not Math.max(...all): a day of segments over several tracks overflows the call stack.
  let maxSeg = 0;
  for (const segs of picked.values()) for (const s of segs) maxSeg = Math.max(maxSeg, s.duration / s.timescale);
  const staticMpd = src.ended;
  let total = 0;
  if (staticMpd) {
    const lastPeriod = periods[periods.length - 1]!;
    const lastDur = Math.max(
      0,
      ...lastPeriod.adaptationSets.flatMap((a) =>
        a.representations.map((r) => {
          const l = r.timeline[r.timeline.length - 1]!;
          return (l.t + l.d - r.presentationTimeOffset) / r.timescale;
        }),
      ),
    );
    total = lastPeriod.start + lastDur;
  }
  return {
    type: staticMpd ? 'static' : 'dynamic',
    availabilityStartTime: ast,
    publishTime: staticMpd ? (src.endedAt ?? now) : now,
    ...(staticMpd ? { mediaPresentationDuration: total } : { minimumUpdatePeriod: cfg.segmentTargetMs / 1000, timeShiftBufferDepth: windowMs / 1000 }),
    maxSegmentDuration: maxSeg,
    minBufferTime: cfg.segmentTargetMs / 1000,
    ...(staticMpd || opts.forStore ? {} : { availabilityTimeOffset: (cfg.segmentTargetMs - cfg.partTargetMs) / 1000 }),
    ...(staticMpd ? {} : { latency: cfg.dashLatency }),
    periods,
  };
}

/**
 * The DASH captions representation of a Period: the reference track's, over
 * the wvtt objects (the same numbers and times), or undefined. In a stored
 * MPD, only the segments whose caption uploads have settled.
 */
function captionsRepresentation(captions: CaptionTrack | undefined, ref: ManifestTrack, period: number, sets: readonly DashAdaptationSet[], forStore: boolean): DashRepresentation | undefined {
  const mirror = sets.flatMap((a) => a.representations).find((r) => r.id === ref.id);
  if (!captions || !mirror) return undefined;
  const ms = (ticks: number) => wvttTicks(ticks, mirror.timescale);
  let timeline = mirror.timeline.map((e) => ({ t: ms(e.t), d: ms(e.t + e.d) - ms(e.t) }));
  if (forStore) {
    if (captions.initUploads.get(period) !== 'stored') return undefined;
    const stop = timeline.findIndex((_, i) => {
      const up = captions.uploads.get(mirror.startNumber + i);
      return !up || up.wvtt === 'pending';
    });
    timeline = stop < 0 ? timeline : timeline.slice(0, stop);
    if (timeline.length === 0) return undefined;
  }
  return {
    id: names.captions,
    bandwidth: 1000,
    codecs: 'wvtt',
    timescale: WVTT_TIMESCALE,
    initialization: `${names.captions}/${names.init(period)}`,
    media: `${names.captions}/seg-$Number$.m4s`,
    startNumber: mirror.startNumber,
    presentationTimeOffset: ms(mirror.presentationTimeOffset),
    timeline,
    ...(mirror.duration !== undefined ? { duration: ms(mirror.duration) } : {}),
  };
}

/**
 * The periods, by track, whose segments have left the segment-target grid:
 * sticky, so once a period falls back to the SegmentTimeline it keeps it.
 * The first time is logged.
 */
export class OffGridPeriods {
  readonly #keys = new Set<string>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Whether the period is off the grid: it was already, or `segs` now are. */
  check(trackId: string, period: number, segs: readonly Segment[], targetTicks: number): boolean {
    const key = `${trackId}|${period}`;
    if (this.#keys.has(key)) return true;
    if (!offGrid(segs, targetTicks)) return false;
    this.#keys.add(key);
    this.#logger.warn({ rendition: trackId, period }, 'segments off the segment-target grid: the live MPD lists a SegmentTimeline for this track');
    return true;
  }
}

/**
 * Whether a period's segments have left the segment-target grid that number
 * addressing assumes: the end of the newest drifted more than half a target from
 * where whole targets after the first listed one put it. A constant offset (an
 * audio track cut on the absolute grid, a short first segment) is not drift.
 */
function offGrid(segs: readonly Segment[], targetTicks: number): boolean {
  const first = segs[0];
  const last = segs[segs.length - 1];
  if (!first || !last || last === first) return false;
  const expected = first.start + first.duration + (last.msn - first.msn) * targetTicks;
  return Math.abs(last.start + last.duration - expected) > targetTicks / 2;
}

