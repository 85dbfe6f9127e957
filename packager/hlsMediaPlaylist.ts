/**
 * The LL-HLS media playlist model of a track (and of the captions rendition,
 * which follows one) from a broadcast's state (manifestSource.ts): which
 * segments and parts are listed, the preload hint, rendition reports, the
 * server-control values, the live, stored and ended (VOD) variants. A model
 * only: hls.ts serializes it, Broadcast caches the text per version.
 */
import type { HlsSegment, MediaPlaylist } from './hls.ts';
import { storedPrefix, type ManifestSource, type ManifestTrack } from './manifestSource.ts';
import { names } from './naming.ts';

/**
 * The media playlist model of a track. Live: the sliding window (or the DVR
 * window), parts on the newest segments, a preload hint, rendition reports.
 * Ended: every retained segment, ENDLIST. `forStore`: the copy written to the
 * object store, which names segments only (parts live in memory).
 */
export function buildMediaPlaylist(src: ManifestSource, track: ManifestTrack, opts: { forStore?: boolean } = {}): MediaPlaylist | undefined {
  if (!track.init || !track.current || !src.startable(track)) return undefined;
  const cfg = src.config;
  const liveTd = track.targetDuration;
  const partTarget = cfg.partTargetMs / 1000;
  const lowLatency = !opts.forStore && !src.ended;
  const cur = track.current;
  // §6.2.2: a live playlist lasts at least three target durations.
  const windowMs = Math.max(cfg.liveWindowMs, cfg.dvrWindowMs, 3000 * liveTd);
  let first = 0;
  if (!src.ended) {
    // Window measured over the last `windowMs` of media, counting across periods.
    let acc = 0;
    for (let i = track.segments.length - 1; i >= 0; i--) {
      acc += track.segments[i]!.duration / track.segments[i]!.timescale;
      first = i;
      if (acc * 1000 >= windowMs) break;
    }
  }
  let list = track.segments.slice(first).filter((s) => s.complete || (lowLatency && s.parts.length > 0));
  if (opts.forStore) list = storedPrefix(track, list);
  if (list.length === 0) return undefined;
  // Live (memory and store copies alike): the track's high-water mark, so it never
  // shrinks between reloads. Ended (VOD): the longest of the segments it lists.
  const td = src.ended ? list.reduce((m, s) => Math.max(m, Math.round(s.duration / s.timescale)), 1) : liveTd;
  // Parts are listed on segments ending within partListTargetDurations of the live
  // edge, measured by summing durations (timestamps may jump at a discontinuity).
  const partHorizon = cfg.partListTargetDurations * td;
  const fromEdge: number[] = [];
  for (let i = list.length - 1, acc = 0; i >= 0; i--) {
    fromEdge[i] = acc;
    acc += list[i]!.duration / list[i]!.timescale;
  }
  const segments: HlsSegment[] = list.map((s, i) => {
    const listParts = lowLatency && s.parts.length > 0 && (fromEdge[i]! < partHorizon || !s.complete);
    return {
      uri: names.segment(s.msn),
      duration: s.duration / s.timescale,
      discontinuity: s.discontinuity,
      mapUri: names.init(s.period),
      programDateTime: s.programDateTime,
      complete: s.complete,
      ...(opts.forStore && (s.upload === 'dropped' || s.upload === 'failed') ? { gap: true } : {}),
      ...(listParts
        ? { parts: s.parts.map((p) => ({ uri: names.part(p.msn, p.index), duration: p.duration / s.timescale, independent: p.independent })) }
        : {}),
    };
  });
  const firstSeg = list[0]!;
  // The preload hint names the part that will come. When the open segment is
  // at its target the next part starts a new one, but that segment is not
  // closed (no EXTINF) until the part arrives, and a hint into a segment
  // after an open one breaks Shaka's parser: no hint for those ~200 ms
  // (blocking reloads still answer). A hint that never comes would be a 404.
  const next = cur.complete ? { msn: cur.msn + 1, part: 0 } : track.segmenter.nextPartStartsSegment() ? undefined : { msn: cur.msn, part: cur.parts.length };
  const live = lowLatency && !track.failure;
  return {
    version: 9,
    targetDuration: td,
    ...(lowLatency ? { partTarget } : {}),
    ...(lowLatency
      ? {
          serverControl: {
            canBlockReload: true,
            partHoldBack: Number((3 * partTarget).toFixed(3)),
            holdBack: 3 * td,
            canSkipUntil: 6 * td,
          },
        }
      : {}),
    ...(src.ended ? { playlistType: 'VOD' as const } : {}),
    independentSegments: true,
    mediaSequence: firstSeg.msn,
    // The Discontinuity Sequence Number of the first listed segment (the serializer
    // omits EXT-X-DISCONTINUITY on the first segment, whose number already counts it).
    discontinuitySequence: firstSeg.discontinuitySequence,
    segments,
    ...(src.timeline.length > 0 ? { dateRanges: src.dateRanges(firstSeg.programDateTime) } : {}),
    ...(live && next ? { preloadHint: { type: 'PART' as const, uri: names.part(next.msn, next.part) } } : {}),
    renditionReports: lowLatency
      ? src.tracks
          .filter((t) => t.id !== track.id && t.current && t.init && t.kind === track.kind)
          .map((t) => {
            const c = t.current!;
            return c.complete
              ? { uri: `../${t.id}/${names.playlist}`, lastMsn: c.msn, lastPart: c.parts.length - 1 }
              : { uri: `../${t.id}/${names.playlist}`, lastMsn: c.msn, lastPart: c.parts.length - 1 };
          })
      : [],
    endList: src.ended,
  };
}

/** The captions rendition's playlist: the reference track's, naming WebVTT files (captionTrack.ts). */
export function buildCaptionsPlaylist(src: ManifestSource, ref: ManifestTrack, forStore: boolean): MediaPlaylist | undefined {
  const p = buildMediaPlaylist(src, ref, { forStore });
  return p && src.captions?.playlist(p, forStore);
}
