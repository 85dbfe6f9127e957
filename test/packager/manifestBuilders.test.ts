// The manifest models built from a hand-made broadcast state (ManifestSource,
// packager/manifestSource.ts), without a Broadcast or any media: which segments
// and parts a live, stored or ended media playlist lists, its preload hint and
// rendition reports (hlsMediaPlaylist.ts); the multivariant playlist's variants
// (hlsMultivariant.ts); the MPD's Periods, number addressing and its timeline
// fallback (dashMpd.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../common/index.ts';
import { parsePackagerConfig } from '../../packager/config.ts';
import { buildMediaPlaylist } from '../../packager/hlsMediaPlaylist.ts';
import { buildMultivariantPlaylist } from '../../packager/hlsMultivariant.ts';
import { OffGridPeriods, buildMpd } from '../../packager/dashMpd.ts';
import { CaptionTrack } from '../../packager/captionTrack.ts';
import type { ManifestSource, ManifestTrack } from '../../packager/manifestSource.ts';
import type { Segment } from '../../packager/types.ts';
import { AUDIO, VIDEO, initInfo, type SyntheticTrack } from './syntheticCmaf.ts';

const T0 = Date.UTC(2026, 11, 6, 18, 0, 0);
const CONFIG = parsePackagerConfig({});

/** A segment of `parts` 200 ms parts (or `durS` seconds) starting `startS` into the media, its PDT on the same clock. */
function seg(kind: SyntheticTrack, msn: number, o: { startS?: number; durS?: number; parts?: number; complete?: boolean; period?: number; upload?: Segment['upload'] } = {}): Segment {
  const ts = kind.timescale;
  const startS = o.startS ?? msn;
  const parts = o.parts ?? 5;
  const durS = o.durS ?? parts * 0.2;
  const period = o.period ?? 0;
  return {
    msn,
    period,
    discontinuity: false,
    discontinuitySequence: period,
    start: Math.round(startS * ts),
    duration: Math.round(durS * ts),
    timescale: ts,
    programDateTime: T0 + startS * 1000,
    parts: Array.from({ length: parts }, (_, i) => ({ msn, index: i, start: Math.round((startS + (i * durS) / parts) * ts), duration: Math.round((durS / parts) * ts), independent: i === 0, bytes: Buffer.alloc(0) })),
    byteLength: 0,
    complete: o.complete ?? true,
    ...(o.upload ? { upload: o.upload } : {}),
    bytes: undefined,
  };
}

function track(id: string, kind: SyntheticTrack, segments: Segment[], { hintNextSegment = false, ...o }: Partial<ManifestTrack> & { hintNextSegment?: boolean } = {}): ManifestTrack {
  const periodStarts = new Map<number, { start: number; timescale: number; pdt: number; msn: number }>();
  for (const s of segments) if (!periodStarts.has(s.period)) periodStarts.set(s.period, { start: s.start, timescale: s.timescale, pdt: s.programDateTime, msn: s.msn });
  return {
    id,
    init: { period: 0, info: initInfo(kind), bytes: Buffer.alloc(0) },
    kind: kind.kind,
    current: segments.at(-1),
    segments,
    targetDuration: 1,
    failure: undefined,
    bandwidth: kind === VIDEO ? 800_000 : 64_000,
    averageBitrate: kind === VIDEO ? 700_000 : 64_000,
    frameRate: kind === VIDEO ? 30 : undefined,
    periodStarts: periodStarts,
    initUpload: new Map([[0, 'stored']]),
    playlistStored: true,
    segmenter: { nextPartStartsSegment: () => hintNextSegment },
    ...o,
  };
}

function source(tracks: ManifestTrack[], o: Partial<ManifestSource> = {}): ManifestSource {
  return {
    config: CONFIG,
    tracks,
    ended: false,
    endedAt: undefined,
    timeline: [],
    dateRanges: () => [],
    captions: undefined,
    captionReference: undefined,
    expectedReady: () => true,
    startable: () => true,
    availabilityZero: () => undefined,
    offGrid: new OffGridPeriods(silentLogger()),
    ...o,
  };
}

/** 15 complete 1 s segments and one open with two parts. */
const liveSegments = (kind: SyntheticTrack) => [...Array.from({ length: 15 }, (_, i) => seg(kind, i)), seg(kind, 15, { parts: 2, complete: false })];

test('live media playlist: 12 s of window, parts on the three segments at the edge and the open one, the next part hinted, reports of same-kind renditions', () => {
  const v = track('video-360p', VIDEO, liveSegments(VIDEO));
  const v2 = track('video-180p', VIDEO, liveSegments(VIDEO));
  const a = track('audio', AUDIO, liveSegments(AUDIO));
  const p = buildMediaPlaylist(source([v, v2, a]), v)!;
  assert.equal(p.mediaSequence, 3, '12 × 1 s + 0.4 s reach back to segment 3');
  assert.deepEqual(
    p.segments.map((s) => `${s.uri}${s.complete ? '' : ' (open)'} ${s.parts?.length ?? 0}p`),
    [...Array.from({ length: 9 }, (_, i) => `seg-${i + 3}.m4s 0p`), 'seg-12.m4s 5p', 'seg-13.m4s 5p', 'seg-14.m4s 5p', 'seg-15.m4s (open) 2p'],
  );
  assert.deepEqual(p.preloadHint, { type: 'PART', uri: 'part-15.2.m4s' });
  assert.deepEqual(p.renditionReports, [{ uri: '../video-180p/index.m3u8', lastMsn: 15, lastPart: 1 }]);
  assert.deepEqual([p.targetDuration, p.partTarget, p.serverControl, p.playlistType, p.endList], [1, 0.22, { canBlockReload: true, partHoldBack: 0.66, holdBack: 3, canSkipUntil: 6 }, undefined, false]);

  // The next part starts a segment not listed yet: no hint. A failed track: none either.
  assert.equal(buildMediaPlaylist(source([v]), track('v', VIDEO, liveSegments(VIDEO), { hintNextSegment: true }))!.preloadHint, undefined);
  assert.equal(buildMediaPlaylist(source([v]), track('v', VIDEO, liveSegments(VIDEO), { failure: new Error('bad') }))!.preloadHint, undefined);
  // The open segment complete: the hint names part 0 of the next.
  const done = liveSegments(VIDEO).slice(0, 15);
  assert.deepEqual(buildMediaPlaylist(source([]), track('v', VIDEO, done))!.preloadHint, { type: 'PART', uri: 'part-15.0.m4s' });
});

test('a media playlist is not built before the track is startable, and asks for the date ranges from its first listed segment', () => {
  const v = track('v', VIDEO, liveSegments(VIDEO));
  assert.equal(buildMediaPlaylist(source([v], { startable: () => false }), v), undefined);
  assert.equal(buildMediaPlaylist(source([]), track('v', VIDEO, [])), undefined);
  const asked: number[] = [];
  const withEvents = source([v], {
    timeline: [{ id: 'speaker-1', kind: 'speaker', at: T0, attributes: {} }],
    dateRanges: (fromMs) => {
      asked.push(fromMs);
      return [{ id: 'speaker-1', startDate: T0, class: 'com.stagecast.speaker', endOnNext: true }];
    },
  });
  assert.equal(buildMediaPlaylist(withEvents, v)!.dateRanges?.length, 1);
  assert.deepEqual(asked, [T0 + 3000]);
});

test('stored media playlist: segments whose uploads settled, up to the first pending one or one of an init not stored; GAP for dropped and failed; no parts', () => {
  const uploads: Segment['upload'][] = ['stored', 'dropped', 'failed', 'stored', 'pending', 'stored'];
  const v = track('v', VIDEO, uploads.map((upload, i) => seg(VIDEO, i, { upload })));
  const p = buildMediaPlaylist(source([v]), v, { forStore: true })!;
  assert.deepEqual(p.segments.map((s) => `${s.uri}${s.gap ? ' GAP' : ''} ${s.parts?.length ?? 0}p`), ['seg-0.m4s 0p', 'seg-1.m4s GAP 0p', 'seg-2.m4s GAP 0p', 'seg-3.m4s 0p']);
  assert.deepEqual([p.partTarget, p.serverControl, p.preloadHint, p.renditionReports], [undefined, undefined, undefined, []]);
  const initPending = track('v', VIDEO, v.segments, { initUpload: new Map([[0, 'pending']]) });
  assert.equal(buildMediaPlaylist(source([initPending]), initPending, { forStore: true }), undefined);
});

test('ended media playlist: every retained segment, VOD and ENDLIST, TARGETDURATION the longest listed', () => {
  const v = track('v', VIDEO, [seg(VIDEO, 0), seg(VIDEO, 1), seg(VIDEO, 2, { durS: 2.6 }), seg(VIDEO, 3, { startS: 4.6 })], { targetDuration: 3 });
  const p = buildMediaPlaylist(source([v], { ended: true }), v)!;
  assert.deepEqual(
    [p.mediaSequence, p.segments.length, p.targetDuration, p.playlistType, p.endList, p.serverControl, p.preloadHint, p.segments.some((s) => s.parts)],
    [0, 4, 3, 'VOD', true, undefined, undefined, false],
  );
});

test('multivariant playlist: video variants by bandwidth with the audio group added, subtitles when captions follow a track; only stored playlists for the store; nothing until every expected track is ready', () => {
  const hi = track('video-720p', VIDEO, liveSegments(VIDEO), { bandwidth: 2_000_000, averageBitrate: 1_800_000 });
  const lo = track('video-360p', VIDEO, liveSegments(VIDEO), { playlistStored: false });
  const failed = track('video-1080p', VIDEO, liveSegments(VIDEO), { bandwidth: 5_000_000, failure: new Error('bad') });
  const a = track('audio', AUDIO, liveSegments(AUDIO));
  const m = buildMultivariantPlaylist(source([lo, failed, a, hi]))!;
  assert.deepEqual(
    m.variants.map((v) => [v.uri, v.bandwidth, v.averageBandwidth, v.codecs, v.audioGroup]),
    [
      ['video-720p/index.m3u8', 2_064_000, 1_864_000, 'avc1.42c01e,mp4a.40.2', 'audio'],
      ['video-360p/index.m3u8', 864_000, 764_000, 'avc1.42c01e,mp4a.40.2', 'audio'],
    ],
  );
  assert.deepEqual(m.audio, [{ groupId: 'audio', name: 'audio', uri: 'audio/index.m3u8', default: true, channels: 2 }]);
  assert.equal(m.subtitles, undefined);
  const captions = new CaptionTrack('en', 'Captions');
  const withCaptions = buildMultivariantPlaylist(source([lo, a, hi], { captions, captionReference: hi }))!;
  assert.deepEqual(withCaptions.subtitles, [{ groupId: 'subs', name: 'Captions', uri: 'captions/index.m3u8', language: 'en', default: false }]);
  assert.deepEqual(withCaptions.variants.map((v) => v.subtitlesGroup), ['subs', 'subs']);
  assert.equal(buildMultivariantPlaylist(source([lo, a, hi], { captions, captionReference: hi }), { storedOnly: true })!.subtitles, undefined, 'its playlist is not stored yet');
  assert.deepEqual(buildMultivariantPlaylist(source([lo, a, hi]), { storedOnly: true })!.variants.map((v) => v.uri), ['video-720p/index.m3u8']);
  assert.equal(buildMultivariantPlaylist(source([lo, a, hi], { expectedReady: () => false })), undefined);
  // Audio only: the audio playlists are the variants.
  assert.deepEqual(buildMultivariantPlaylist(source([a]))!.variants, [{ uri: 'audio/index.m3u8', bandwidth: 64_000, averageBandwidth: 64_000, codecs: 'mp4a.40.2' }]);
});

test('MPD: a Period per source session on the wall clock, segments addressed by number while live; a session off the target grid keeps a SegmentTimeline for good; ended: static, exact timelines', () => {
  // Period 0: 0–3 s; period 1 (a restart) from 10 s: 1 s, then a 2.5 s segment (a long GOP: off the grid).
  const segments = [seg(VIDEO, 0), seg(VIDEO, 1), seg(VIDEO, 2), seg(VIDEO, 3, { startS: 10, period: 1 }), seg(VIDEO, 4, { startS: 11, durS: 2.5, period: 1 })];
  const v = track('v', VIDEO, segments);
  const offGrid = new OffGridPeriods(silentLogger());
  const live = buildMpd(source([v], { offGrid }), T0 + 20_000)!;
  assert.deepEqual([live.type, live.availabilityStartTime, live.publishTime, live.availabilityTimeOffset], ['dynamic', T0, T0 + 20_000, 0.78]);
  assert.deepEqual(live.periods.map((p) => [p.id, p.start]), [['p0', 0], ['p1', 10]]);
  const rep = (p: number) => live.periods[p]!.adaptationSets[0]!.representations[0]!;
  assert.deepEqual([rep(0).startNumber, rep(0).presentationTimeOffset, rep(0).duration, rep(0).timeline], [0, 0, 90_000, []]);
  assert.deepEqual([rep(1).startNumber, rep(1).duration, rep(1).timeline.map((e) => e.d / 90_000)], [3, undefined, [1, 2.5]]);
  assert.equal(offGrid.check('v', 1, segments.slice(3, 4), 90_000), true, 'sticky: still off the grid with a segment that is on it');
  assert.equal(offGrid.check('v', 0, segments.slice(0, 3), 90_000), false);

  const ended = buildMpd(source([v], { ended: true, endedAt: T0 + 15_000 }), T0 + 20_000)!;
  assert.deepEqual([ended.type, ended.publishTime, ended.mediaPresentationDuration, ended.availabilityTimeOffset], ['static', T0 + 15_000, 13.5, undefined]);
  assert.deepEqual(ended.periods[0]!.adaptationSets[0]!.representations[0]!.timeline.map((e) => e.t / 90_000), [0, 1, 2]);
  assert.equal(buildMpd(source([v], { expectedReady: () => false }), T0), undefined);
});
