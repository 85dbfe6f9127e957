/* eslint-disable @typescript-eslint/no-explicit-any -- the parsers return untyped objects */
// Live captions (packager/captions.ts, captionTrack.ts, wvtt.ts): the cue rules and
// where a cue lands, the segmented WebVTT files (X-TIMESTAMP-MAP, ids repeated
// across files, escaping, files that are out never change), the subtitle playlist
// read back by m3u8-parser, and the DASH wvtt segments read box by box.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../common/index.ts';
import { serializeMediaPlaylist, serializeMultivariantPlaylist, type MediaPlaylist } from '../../packager/index.ts';
import { CAPTION_LIMITS, cuesIn, placeCue, webvttFile, type Cue, type CueInput } from '../../packager/captions.ts';
import { CaptionTrack, CAPTIONS_LIVE_TARGET_DURATION } from '../../packager/captionTrack.ts';
import { wvttInit, wvttSegment } from '../../packager/wvtt.ts';
import { readM3u8 } from './readback.ts';

const T0 = Date.UTC(2026, 11, 6, 18, 0, 0);

/** Places cues one after another as a CaptionTrack does, edge and now given per cue. */
function placeAll(inputs: { input: CueInput; now: number; edge: number }[]): Cue[] {
  const cues: Cue[] = [];
  const given: { start: number; end: number }[] = [];
  inputs.forEach(({ input, now, edge }, i) => {
    const r = placeCue(cues, given, input, `cue-${i}`, now, edge);
    cues.splice(r.index, 0, r.cue);
    given.splice(r.index, 0, r.given);
  });
  return cues;
}

function refused(fn: () => unknown, code: string, status: number): void {
  assert.throws(fn, (err: unknown) => err instanceof InputError && err.code === code && err.status === status && err.message.length > 10, `${code} ${status}`);
}

test('cue rules: each bad cue is a 4xx with its own code; times as epoch ms or ISO 8601, duration or end', () => {
  const place = (input: CueInput, now = T0, edge = T0 - 500) => placeCue([], [], input, 'c', now, edge).cue;
  assert.deepEqual(place({ text: ' Hello\r\nworld ', start: T0, end: T0 + 2000 }), { id: 'c', start: T0, end: T0 + 2000, text: 'Hello\nworld', shiftedMs: 0, edgeMs: T0 - 500 });
  assert.equal(place({ text: 'x', start: new Date(T0).toISOString(), duration: 1500 }).end, T0 + 1500);
  assert.equal(place({ text: 'x', duration: 1000 }, T0 + 7).start, T0 + 7, 'no start: now');
  assert.equal(place({ text: 'x', duration: 1000, speaker: ' Ada ' }).speaker, 'Ada');
  refused(() => place({ text: '', duration: 1000 }), 'bad-cue', 400);
  refused(() => place({ text: 'x' }), 'bad-cue', 400);
  refused(() => place({ text: 'x', end: T0 + 1, duration: 1 }), 'bad-cue', 400);
  refused(() => place({ text: 'x', start: T0, end: T0 }), 'bad-cue', 400);
  refused(() => place({ text: 'x', start: 'noon', duration: 1000 }), 'bad-cue', 400);
  refused(() => place({ text: 'x', duration: CAPTION_LIMITS.maxDurationMs + 1 }), 'bad-cue', 400);
  refused(() => place({ text: 'a\n\nb', duration: 1000 }), 'bad-cue', 400);
  refused(() => place({ text: 'a --> b', duration: 1000 }), 'bad-cue', 400);
  refused(() => place({ text: 'a\u0007', duration: 1000 }), 'bad-cue', 400);
  refused(() => place({ text: '1\n2\n3\n4\n5', duration: 1000 }), 'bad-cue', 400);
  refused(() => place({ text: 'x', duration: 1000, speaker: 'a\nb' }), 'bad-cue', 400);
  refused(() => place({ text: 'x'.repeat(CAPTION_LIMITS.maxTextChars + 1), duration: 1000 }), 'cue-too-large', 413);
  refused(() => place({ text: 'x', start: T0 - 500 - CAPTION_LIMITS.maxLateMs - 1, duration: 1000 }), 'cue-too-late', 422);
  refused(() => place({ text: 'x', start: T0 + CAPTION_LIMITS.maxEarlyMs + 1, duration: 1000 }), 'cue-too-early', 422);
});

test('placement: a cue that began before the edge keeps its times; one that would end by it moves to the edge, after any cue there; overlaps as given are 409', () => {
  const cues = placeAll([
    { input: { text: 'a', start: T0, end: T0 + 2000 }, now: T0 + 300, edge: T0 + 800 },
    // Ends before the edge: moved to it (keeps its 1 s), and after cue a, which is still on there.
    { input: { text: 'b', start: T0 + 2000, end: T0 + 3000 }, now: T0 + 3500, edge: T0 + 3200 },
    // Starts in the future.
    { input: { text: 'c', start: T0 + 9000, duration: 500 }, now: T0 + 3600, edge: T0 + 3400 },
    // Between b and c, posted last: kept in start order.
    { input: { text: 'd', start: T0 + 6000, duration: 500 }, now: T0 + 3700, edge: T0 + 3500 },
  ]);
  assert.deepEqual(
    cues.map((c) => [c.text, c.start - T0, c.end - T0, c.shiftedMs]),
    [
      ['a', 0, 2000, 0],
      ['b', 3200, 4200, 1200],
      ['d', 6000, 6500, 0],
      ['c', 9000, 9500, 0],
    ],
  );
  const given = [
    { start: T0, end: T0 + 2000 },
    { start: T0 + 2000, end: T0 + 3000 },
  ];
  refused(() => placeCue(cues.slice(0, 2), given, { text: 'x', start: T0 + 1500, duration: 1000 }, 'x', T0 + 3600, T0 + 3000), 'cue-overlap', 409);
  // Not overlapping as given, but cue b was moved over it: refused too (its message says so).
  refused(() => placeCue(cues.slice(0, 2), given, { text: 'x', start: T0 + 3100, duration: 800 }, 'x', T0 + 3600, T0 + 3300), 'cue-overlap', 409);
});

test('WebVTT files: X-TIMESTAMP-MAP ties the file to the media time, a cue spanning files is in each under its id, text escaped with the speaker as a voice span, files out before a cue was placed stay without it', () => {
  const [hello, late] = placeAll([
    { input: { text: 'Tom & <Jerry>', start: T0 + 1500, end: T0 + 2600, speaker: 'Ada <1>' }, now: T0 + 1000, edge: T0 + 1200 },
    { input: { text: 'later', start: T0 + 2700, end: T0 + 3100 }, now: T0 + 2650, edge: T0 + 2800 },
  ]);
  // A session that started at T0, media time 10 s; segments of 1 s.
  const map = (segStart: number) => ({ mediaSeconds: 10 + segStart, wallMs: T0 + segStart * 1000, originMs: T0 });
  const seg1 = webvttFile([hello!, late!], T0 + 1000, T0 + 2000, map(1));
  assert.equal(seg1, ['WEBVTT', 'X-TIMESTAMP-MAP=MPEGTS:990000,LOCAL:00:00:01.000', '', 'cue-0', '00:00:01.500 --> 00:00:02.600', '<v Ada &lt;1&gt;>Tom &amp; &lt;Jerry&gt;</v>', ''].join('\n'));
  const seg2 = webvttFile([hello!, late!], T0 + 2000, T0 + 3000, map(2));
  assert.match(seg2, /^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:1080000,LOCAL:00:00:02.000\n\ncue-0\n00:00:01.500 --> 00:00:02.600\n/);
  assert.match(seg2, /\ncue-1\n00:00:02.700 --> 00:00:03.100\nlater\n$/, 'placed while the edge was at 2.8 s: in the file ending at 3 s');
  // The part [2.6, 2.8) was out when "later" was placed (edge 2.8): it stays without it.
  assert.doesNotMatch(webvttFile([hello!, late!], T0 + 2600, T0 + 2800, map(2)), /later/);
  assert.match(webvttFile([hello!, late!], T0 + 2800, T0 + 3000, map(2)), /later/);
  // 33-bit wrap of the 90 kHz timestamp.
  assert.match(webvttFile([], T0, T0 + 1000, { mediaSeconds: 2 ** 33 / 90_000 + 1, wallMs: T0, originMs: T0 }), /MPEGTS:90000,/);
  assert.deepEqual(cuesIn([hello!, late!], T0 + 2650, T0 + 2700), [], 'between the two');
});

test('the subtitle playlist mirrors the reference: same segments, discontinuities and times, WebVTT names, no MAP, parts on the newest segments, a live TARGETDURATION of at least 3; m3u8-parser reads it and the SUBTITLES group', () => {
  const seg = (msn: number, complete: boolean, disc = false) => ({
    uri: `seg-${msn}.m4s`,
    duration: 1,
    discontinuity: disc,
    mapUri: `init-${disc ? 1 : 0}.mp4`,
    programDateTime: T0 + msn * 1000,
    complete,
    parts: [0, 1, 2, 3, 4].slice(0, complete ? 5 : 2).map((i) => ({ uri: `part-${msn}.${i}.m4s`, duration: 0.2, independent: i === 0 })),
  });
  const ref: MediaPlaylist = {
    version: 9,
    targetDuration: 1,
    partTarget: 0.22,
    serverControl: { canBlockReload: true, partHoldBack: 0.66, holdBack: 3, canSkipUntil: 6 },
    independentSegments: true,
    mediaSequence: 10,
    discontinuitySequence: 0,
    segments: [seg(10, true), seg(11, true), seg(12, true, true), seg(13, true), seg(14, false)],
    dateRanges: [{ id: 'speaker-1', class: 'com.stagecast.speaker', startDate: T0, endOnNext: true }],
    preloadHint: { type: 'PART', uri: 'part-14.2.m4s' },
    renditionReports: [{ uri: '../video-180p/index.m3u8', lastMsn: 14, lastPart: 1 }],
    endList: false,
  };
  const text = serializeMediaPlaylist(new CaptionTrack('en', 'Captions').playlist(ref)!);
  assert.doesNotMatch(text, /EXT-X-MAP|EXT-X-RENDITION-REPORT|EXT-X-DATERANGE|\.m4s/);
  assert.match(text, new RegExp(`#EXT-X-TARGETDURATION:${CAPTIONS_LIVE_TARGET_DURATION}\n`));
  assert.match(text, /#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=18,HOLD-BACK=9,PART-HOLD-BACK=0.66\n/);
  assert.match(text, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-14.2.vtt"/);
  const m = readM3u8(text) as any;
  assert.deepEqual(
    m.segments.map((s: any) => [s.uri, s.duration, s.discontinuity === true, s.dateTimeObject.getTime() - T0, s.parts?.length ?? 0]),
    [
      ['seg-10.vtt', 1, false, 10_000, 0],
      ['seg-11.vtt', 1, false, 11_000, 0],
      ['seg-12.vtt', 1, true, 12_000, 0],
      ['seg-13.vtt', 1, false, 13_000, 5],
    ],
  );
  assert.deepEqual(m.partInf, { partTarget: 0.22 });
  const mv = readM3u8(
    serializeMultivariantPlaylist({
      version: 9,
      independentSegments: true,
      audio: [],
      subtitles: [{ groupId: 'subs', name: 'Captions', uri: 'captions/index.m3u8', language: 'en', default: false }],
      variants: [{ uri: 'v/index.m3u8', bandwidth: 1000, codecs: 'avc1.42c01e', subtitlesGroup: 'subs' }],
    }),
  ) as any;
  assert.deepEqual(mv.mediaGroups.SUBTITLES.subs.Captions, { default: false, autoselect: true, forced: false, language: 'en', uri: 'captions/index.m3u8', characteristics: 'public.accessibility.transcribes-spoken-dialog' });
  assert.equal(mv.playlists[0].attributes.SUBTITLES, 'subs');
});

/** The boxes of an ISO BMFF byte range: type, payload bounds. */
function boxes(b: Buffer, from = 0, to = b.length): { type: string; start: number; end: number }[] {
  const out: { type: string; start: number; end: number }[] = [];
  for (let i = from; i < to; ) {
    const size = b.readUInt32BE(i);
    assert.ok(size >= 8 && i + size <= to, `box at ${i} of size ${size} fits`);
    out.push({ type: b.toString('latin1', i + 4, i + 8), start: i + 8, end: i + size });
    i += size;
  }
  return out;
}
const child = (b: Buffer, parent: { start: number; end: number }, type: string, skip = 0) => boxes(b, parent.start + skip, parent.end).find((x) => x.type === type)!;

test('DASH wvtt: the init has a text track with a wvtt sample entry; a segment\'s samples tile its range, vttc boxes (iden, payl) while cues show and vtte between, at tfdt, with trun offsets into the mdat', () => {
  const init = wvttInit(1000);
  const moov = boxes(init).find((x) => x.type === 'moov')!;
  const mdia = child(init, child(init, moov, 'trak'), 'mdia');
  assert.equal(init.toString('latin1', child(init, mdia, 'hdlr').start + 8, child(init, mdia, 'hdlr').start + 12), 'text');
  const stsd = child(init, child(init, child(init, mdia, 'minf'), 'stbl'), 'stsd');
  const entry = boxes(init, stsd.start + 8, stsd.end)[0]!;
  assert.equal(entry.type, 'wvtt');
  assert.equal(init.toString('latin1', child(init, entry, 'vttC', 8).start, child(init, entry, 'vttC', 8).end), 'WEBVTT');

  const cues = placeAll([{ input: { text: 'Hi & bye', start: T0 + 200, end: T0 + 500, speaker: 'Ada' }, now: T0, edge: T0 }]);
  const seg = wvttSegment(cues, { sequence: 7, start: 5000, duration: 1000, timescale: 1000, wallMs: T0 });
  const [moof, mdat] = boxes(seg);
  assert.deepEqual([moof!.type, mdat!.type], ['moof', 'mdat']);
  const traf = child(seg, moof!, 'traf');
  const tfdt = child(seg, traf, 'tfdt');
  assert.equal(Number(seg.readBigUInt64BE(tfdt.start + 4)), 5000);
  const trun = child(seg, traf, 'trun');
  const count = seg.readUInt32BE(trun.start + 4);
  const dataOffset = seg.readInt32BE(trun.start + 8);
  assert.equal(moof!.start - 8 + dataOffset, mdat!.start, 'data offset from the moof to the first sample');
  const samples = Array.from({ length: count }, (_, i) => ({ duration: seg.readUInt32BE(trun.start + 12 + 8 * i), size: seg.readUInt32BE(trun.start + 16 + 8 * i) }));
  assert.deepEqual(samples.map((s) => s.duration), [200, 300, 500], 'the samples tile the segment at the cue bounds');
  let at = mdat!.start;
  const kinds = samples.map((s) => {
    const [box] = boxes(seg, at, at + s.size);
    const inner = box!.type === 'vttc' ? boxes(seg, box!.start, box!.end).map((x) => `${x.type}:${seg.toString('utf8', x.start, x.end)}`) : [];
    at += s.size;
    return [box!.type, ...inner];
  });
  assert.deepEqual(kinds, [['vtte'], ['vttc', 'iden:cue-0', 'payl:<v Ada>Hi &amp; bye</v>'], ['vtte']]);
});
