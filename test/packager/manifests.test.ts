/* eslint-disable @typescript-eslint/no-explicit-any -- the parsers return untyped objects */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deltaUpdate, serializeMediaPlaylist, serializeMultivariantPlaylist, serializeMpd, type MediaPlaylist, type Mpd } from '../../packager/index.ts';
import { readM3u8, readMpd } from './readback.ts';

const PDT = Date.UTC(2025, 0, 1, 12, 0, 0);

function segment(msn: number, opts: { parts?: number; complete?: boolean; discontinuity?: boolean; session?: number } = {}) {
  const parts = opts.parts ?? 0;
  return {
    uri: `seg-${msn}.m4s`,
    duration: 1,
    discontinuity: opts.discontinuity ?? false,
    mapUri: `init-${opts.session ?? 0}.mp4`,
    programDateTime: PDT + msn * 1000,
    complete: opts.complete ?? true,
    ...(parts ? { parts: Array.from({ length: parts }, (_, i) => ({ uri: `part-${msn}.${i}.m4s`, duration: 0.2, independent: i === 0 })) } : {}),
  };
}

/** A live playlist: 8 segments, the last two with parts, one in progress, a discontinuity at msn 14. */
const live: MediaPlaylist = {
  version: 9,
  targetDuration: 1,
  partTarget: 0.22,
  serverControl: { canBlockReload: true, partHoldBack: 0.66, holdBack: 3, canSkipUntil: 6 },
  independentSegments: true,
  mediaSequence: 10,
  discontinuitySequence: 0,
  segments: [
    segment(10),
    segment(11),
    segment(12),
    segment(13),
    segment(14, { discontinuity: true, session: 1 }),
    segment(15, { session: 1 }),
    segment(16, { session: 1, parts: 5 }),
    segment(17, { session: 1, parts: 5 }),
    { ...segment(18, { session: 1, parts: 2, complete: false }), duration: 0.4 },
  ],
  preloadHint: { type: 'PART', uri: 'part-18.2.m4s' },
  renditionReports: [{ uri: '../video-180p/index.m3u8', lastMsn: 18, lastPart: 1 }],
  endList: false,
};

const seg = (msn: number, map: string, disc = false) =>
  `${disc ? '#EXT-X-DISCONTINUITY\n' : ''}${map}#EXT-X-PROGRAM-DATE-TIME:${new Date(PDT + msn * 1000).toISOString()}\n`;
const parts = (msn: number, n: number) => Array.from({ length: n }, (_, i) => `#EXT-X-PART:DURATION=0.2,URI="part-${msn}.${i}.m4s"${i === 0 ? ',INDEPENDENT=YES' : ''}\n`).join('');

const GOLDEN_LIVE =
  '#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART-INF:PART-TARGET=0.22\n' +
  '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6,HOLD-BACK=3,PART-HOLD-BACK=0.66\n' +
  '#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MEDIA-SEQUENCE:10\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n' +
  seg(10, '#EXT-X-MAP:URI="init-0.mp4"\n') + '#EXTINF:1,\nseg-10.m4s\n' +
  seg(11, '') + '#EXTINF:1,\nseg-11.m4s\n' +
  seg(12, '') + '#EXTINF:1,\nseg-12.m4s\n' +
  seg(13, '') + '#EXTINF:1,\nseg-13.m4s\n' +
  seg(14, '#EXT-X-MAP:URI="init-1.mp4"\n', true) + '#EXTINF:1,\nseg-14.m4s\n' +
  seg(15, '') + '#EXTINF:1,\nseg-15.m4s\n' +
  seg(16, '') + parts(16, 5) + '#EXTINF:1,\nseg-16.m4s\n' +
  seg(17, '') + parts(17, 5) + '#EXTINF:1,\nseg-17.m4s\n' +
  seg(18, '') + parts(18, 2) +
  '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-18.2.m4s"\n' +
  '#EXT-X-RENDITION-REPORT:URI="../video-180p/index.m3u8",LAST-MSN=18,LAST-PART=1\n';

test('media playlist serializes to the golden LL-HLS text', () => {
  assert.equal(serializeMediaPlaylist(live), GOLDEN_LIVE);
});

test('m3u8-parser reads the live playlist back: segments, parts, hints, reports, discontinuity', () => {
  const m = readM3u8(GOLDEN_LIVE) as Record<string, any>;
  assert.equal(m.mediaSequence, 10);
  assert.equal(m.targetDuration, 1);
  assert.equal(m.partTargetDuration, 0.22);
  assert.equal(m.serverControl.canBlockReload, true);
  assert.equal(m.serverControl.partHoldBack, 0.66);
  assert.equal(m.segments.length, 8, 'complete segments');
  assert.equal(m.segments[4].discontinuity, true);
  assert.equal(m.segments[4].map.uri, 'init-1.mp4');
  assert.equal(m.segments[6].parts.length, 5);
  assert.equal(m.preloadSegment.parts.length, 2);
  assert.equal(m.preloadSegment.preloadHints[0].uri, 'part-18.2.m4s');
  assert.equal(m.renditionReports[0].lastMsn, 18);
});

test('delta update (_HLS_skip=YES) skips segments older than CAN-SKIP-UNTIL with EXT-X-SKIP', () => {
  // 8 s of complete media + 0.4 s in progress; CAN-SKIP-UNTIL=6 → the first 2 segments end more than 6 s before the end.
  const d = deltaUpdate(live, 6, false);
  assert.equal(d.skip?.skippedSegments, 2);
  const text = serializeMediaPlaylist(d);
  assert.match(text, /#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n#EXT-X-MAP:URI="init-0.mp4"\n#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXTINF:1,\nseg-12.m4s/);
  assert.match(text, /#EXT-X-MEDIA-SEQUENCE:10\n/, 'media sequence stays that of the full playlist');
  const m = readM3u8(text) as Record<string, any>;
  assert.equal(m.skip.skippedSegments, 2);
  const v2 = serializeMediaPlaylist(deltaUpdate(live, 6, true));
  assert.match(v2, /#EXT-X-SKIP:SKIPPED-SEGMENTS=2,RECENTLY-REMOVED-DATERANGES=""\n/);
});

test('delta update never skips within CAN-SKIP-UNTIL of the end', () => {
  assert.equal(deltaUpdate(live, 100, false), live);
});

test('VOD playlist after the end carries ENDLIST and no parts', () => {
  const vod: MediaPlaylist = { ...live, partTarget: undefined, serverControl: undefined, playlistType: 'VOD', segments: live.segments.slice(0, 8).map((s) => ({ ...s, parts: undefined })), preloadHint: undefined, renditionReports: [], endList: true };
  const text = serializeMediaPlaylist(vod);
  assert.doesNotMatch(text, /PART|PRELOAD|SERVER-CONTROL/);
  assert.match(text, /#EXT-X-PLAYLIST-TYPE:VOD\n/);
  assert.ok(text.endsWith('seg-17.m4s\n#EXT-X-ENDLIST\n'));
  const m = readM3u8(text) as Record<string, any>;
  assert.equal(m.endList, true);
  assert.equal(m.segments.length, 8);
});

const GOLDEN_MASTER =
  '#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-INDEPENDENT-SEGMENTS\n' +
  '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"\n' +
  '#EXT-X-STREAM-INF:BANDWIDTH=2264000,AVERAGE-BANDWIDTH=2064000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000,AUDIO="audio"\nvideo-720p/index.m3u8\n' +
  '#EXT-X-STREAM-INF:BANDWIDTH=864000,AVERAGE-BANDWIDTH=764000,CODECS="avc1.42c01e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000,AUDIO="audio"\nvideo-360p/index.m3u8\n';

test('multivariant playlist serializes to the golden text and reads back', () => {
  const text = serializeMultivariantPlaylist({
    version: 9,
    independentSegments: true,
    audio: [{ groupId: 'audio', name: 'audio', uri: 'audio/index.m3u8', default: true, channels: 2 }],
    variants: [
      { uri: 'video-720p/index.m3u8', bandwidth: 2_264_000, averageBandwidth: 2_064_000, codecs: 'avc1.64001f,mp4a.40.2', resolution: { width: 1280, height: 720 }, frameRate: 30, audioGroup: 'audio' },
      { uri: 'video-360p/index.m3u8', bandwidth: 864_000, averageBandwidth: 764_000, codecs: 'avc1.42c01e,mp4a.40.2', resolution: { width: 640, height: 360 }, frameRate: 30, audioGroup: 'audio' },
    ],
  });
  assert.equal(text, GOLDEN_MASTER);
  const m = readM3u8(text) as Record<string, any>;
  assert.equal(m.playlists.length, 2);
  assert.equal(m.playlists[0].attributes.RESOLUTION.width, 1280);
  assert.equal(m.playlists[0].attributes.CODECS, 'avc1.64001f,mp4a.40.2');
  assert.equal(m.mediaGroups.AUDIO.audio.audio.uri, 'audio/index.m3u8');
});

const mpd: Mpd = {
  type: 'dynamic',
  availabilityStartTime: PDT,
  publishTime: PDT + 10_000,
  minimumUpdatePeriod: 1,
  timeShiftBufferDepth: 12,
  maxSegmentDuration: 1.067,
  minBufferTime: 1,
  availabilityTimeOffset: 0.78,
  latency: { targetMs: 1200, minMs: 800, maxMs: 3000, minPlaybackRate: 0.9, maxPlaybackRate: 1.1 },
  periods: [
    {
      id: 'p0',
      start: 0,
      adaptationSets: [
        {
          id: 0,
          contentType: 'video',
          mimeType: 'video/mp4',
          representations: [
            { id: 'video-360p', bandwidth: 700_000, codecs: 'avc1.42c01e', width: 640, height: 360, frameRate: 30, timescale: 15360, initialization: 'video-360p/init-0.mp4', media: 'video-360p/seg-$Number$.m4s', startNumber: 3, presentationTimeOffset: 0, timeline: [{ t: 46080, d: 15360 }, { t: 61440, d: 15360 }, { t: 76800, d: 15360 }] },
          ],
        },
        {
          id: 1,
          contentType: 'audio',
          mimeType: 'audio/mp4',
          representations: [
            { id: 'audio', bandwidth: 64_000, codecs: 'mp4a.40.2', audioSamplingRate: 48000, channels: 2, timescale: 48000, initialization: 'audio/init-0.mp4', media: 'audio/seg-$Number$.m4s', startNumber: 3, presentationTimeOffset: 0, timeline: [{ t: 143360, d: 51200 }, { t: 194560, d: 40960 }] },
          ],
        },
      ],
    },
  ],
};

const GOLDEN_MPD = `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019" type="dynamic" availabilityStartTime="2025-01-01T12:00:00.000Z" publishTime="2025-01-01T12:00:10.000Z" minimumUpdatePeriod="PT1S" timeShiftBufferDepth="PT12S" maxSegmentDuration="PT1.067S" minBufferTime="PT1S">
<ServiceDescription id="0">
<Latency referenceId="0" target="1200" min="800" max="3000"/>
<PlaybackRate min="0.9" max="1.1"/>
</ServiceDescription>
<Period id="p0" start="PT0S">
<AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">
<Representation id="video-360p" bandwidth="700000" codecs="avc1.42c01e" width="640" height="360" frameRate="30">
<SegmentTemplate timescale="15360" initialization="video-360p/init-0.mp4" media="video-360p/seg-$Number$.m4s" startNumber="3" presentationTimeOffset="0" availabilityTimeOffset="0.78" availabilityTimeComplete="false">
<SegmentTimeline>
<S t="46080" d="15360" r="2"/>
</SegmentTimeline>
</SegmentTemplate>
</Representation>
</AdaptationSet>
<AdaptationSet id="1" contentType="audio" mimeType="audio/mp4" segmentAlignment="true" startWithSAP="1">
<Representation id="audio" bandwidth="64000" codecs="mp4a.40.2" audioSamplingRate="48000">
<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>
<SegmentTemplate timescale="48000" initialization="audio/init-0.mp4" media="audio/seg-$Number$.m4s" startNumber="3" presentationTimeOffset="0" availabilityTimeOffset="0.78" availabilityTimeComplete="false">
<SegmentTimeline>
<S t="143360" d="51200"/>
<S d="40960"/>
</SegmentTimeline>
</SegmentTemplate>
</Representation>
</AdaptationSet>
</Period>
<UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="2025-01-01T12:00:10.000Z"/>
</MPD>
`;

test('dynamic LL-DASH MPD serializes to the golden text', () => {
  assert.equal(serializeMpd(mpd), GOLDEN_MPD);
});

test('mpd-parser reads the MPD back with the same segment objects as HLS', () => {
  const m = readMpd(GOLDEN_MPD) as Record<string, any>;
  const video = m.playlists[0];
  assert.equal(video.attributes.NAME, 'video-360p');
  assert.deepEqual(
    video.segments.map((s: { uri: string }) => s.uri),
    ['video-360p/seg-3.m4s', 'video-360p/seg-4.m4s', 'video-360p/seg-5.m4s'],
  );
  assert.equal(video.segments[0].map.uri, 'video-360p/init-0.mp4');
  const audio = Object.values(m.mediaGroups.AUDIO.audio as Record<string, any>)[0] as Record<string, any>;
  assert.deepEqual(audio.playlists[0].segments.map((s: { uri: string }) => s.uri), ['audio/seg-3.m4s', 'audio/seg-4.m4s']);
});

test('static MPD once ended: no availabilityStartTime, a duration, no LL attributes', () => {
  const text = serializeMpd({ ...mpd, type: 'static', mediaPresentationDuration: 6, availabilityTimeOffset: undefined, latency: undefined });
  assert.match(text, /type="static"/);
  assert.match(text, /mediaPresentationDuration="PT6S"/);
  assert.doesNotMatch(text, /availabilityStartTime|minimumUpdatePeriod|availabilityTimeOffset|UTCTiming/);
  const m = readMpd(text) as Record<string, any>;
  assert.equal(m.playlists[0].segments.length, 3);
});
