/* eslint-disable @typescript-eslint/no-explicit-any -- the parsers return untyped objects */
// The broadcast's timeline (packager/timeline.ts) as players read it: EXT-X-DATERANGE
// tags read back by m3u8-parser, DASH EventStreams by mpd-parser, the VOD's WebVTT
// chapters; and the rules: which events a window lists, how a user's host name is
// made safe, how lasting events end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serializeMediaPlaylist, serializeMpd, timelineChaptersVtt, type MediaPlaylist, type Mpd, type TimelineEvent } from '../../packager/index.ts';
import { checkTimelineEvent, timelineDashEvents, timelineDateRanges } from '../../packager/timeline.ts';
import { readM3u8, readMpd } from './readback.ts';

const T0 = Date.UTC(2026, 11, 6, 18, 0, 0);
const ev = (id: string, kind: TimelineEvent['kind'], s: number, attributes: Record<string, string>): TimelineEvent => ({ id, kind, at: T0 + s * 1000, attributes });
const EVENTS: TimelineEvent[] = [
  ev('layout-1', 'layout', 0, { layout: 'speaker' }),
  ev('host-2', 'host', 0, { 'host-id': 'h1', 'host-name': 'Alice', action: 'on-stage' }),
  ev('speaker-3', 'speaker', 1, { 'host-id': 'h1', 'host-name': 'Alice' }),
  ev('host-4', 'host', 5, { 'host-id': 'h2', 'host-name': 'Bob', action: 'join' }),
  ev('speaker-5', 'speaker', 8, { 'host-id': 'h2', 'host-name': 'Bob' }),
  ev('speaker-6', 'speaker', 12, { 'host-id': 'h1', 'host-name': 'Alice' }),
  ev('speaker-7', 'speaker', 14, { 'host-id': 'h1', 'host-name': 'Alice' }),
];

function playlist(dateRanges: MediaPlaylist['dateRanges'], firstSecond = 0): MediaPlaylist {
  return {
    version: 9,
    targetDuration: 1,
    independentSegments: true,
    mediaSequence: firstSecond,
    discontinuitySequence: 0,
    segments: Array.from({ length: 4 }, (_, i) => ({
      uri: `seg-${firstSecond + i}.m4s`,
      duration: 1,
      discontinuity: false,
      mapUri: 'init-0.mp4',
      programDateTime: T0 + (firstSecond + i) * 1000,
      complete: true,
    })),
    ...(dateRanges ? { dateRanges } : {}),
    renditionReports: [],
    endList: false,
  };
}

test('date ranges: speaker and layout END-ON-NEXT with their CLASS, host events DURATION=0, X- attributes; m3u8-parser reads them back', () => {
  const text = serializeMediaPlaylist(playlist(timelineDateRanges(EVENTS)));
  assert.match(text, /#EXT-X-DATERANGE:ID="speaker-3",CLASS="com.stagecast.speaker",START-DATE="2026-12-06T18:00:01.000Z",END-ON-NEXT=YES,X-HOST-ID="h1",X-HOST-NAME="Alice"\n/);
  assert.match(text, /#EXT-X-DATERANGE:ID="host-4",CLASS="com.stagecast.host",START-DATE="2026-12-06T18:00:05.000Z",DURATION=0,X-HOST-ID="h2",X-HOST-NAME="Bob",X-ACTION="join"\n/);
  // Before the first segment: the ranges follow the header, in time order.
  assert.ok(text.indexOf('#EXT-X-DATERANGE') < text.indexOf('#EXT-X-PROGRAM-DATE-TIME'));
  const read = readM3u8(text) as any;
  assert.deepEqual(
    read.dateRanges.map((d: any) => [d.id, d.class, d.startDate.getTime() - T0, d.endOnNext ?? false, d.duration]),
    [
      ['layout-1', 'com.stagecast.layout', 0, true, undefined],
      ['host-2', 'com.stagecast.host', 0, false, 0],
      ['speaker-3', 'com.stagecast.speaker', 1000, true, undefined],
      ['host-4', 'com.stagecast.host', 5000, false, 0],
      ['speaker-5', 'com.stagecast.speaker', 8000, true, undefined],
      ['speaker-6', 'com.stagecast.speaker', 12000, true, undefined],
      ['speaker-7', 'com.stagecast.speaker', 14000, true, undefined],
    ],
  );
  assert.equal(read.dateRanges[4]['xHostName'] ?? read.dateRanges[4]['X-HOST-NAME'], 'Bob');
});

test('a sliding window lists the events still on at its first segment: ended turns and past points drop out, the current turn and layout stay', () => {
  const ids = timelineDateRanges(EVENTS, T0 + 9_000).map((d) => d.id);
  assert.deepEqual(ids, ['layout-1', 'speaker-5', 'speaker-6', 'speaker-7']);
  // A turn that ended exactly at the window's start is still listed (it ends there).
  assert.deepEqual(timelineDateRanges(EVENTS, T0 + 12_000).map((d) => d.id), ['layout-1', 'speaker-5', 'speaker-6', 'speaker-7']);
  assert.deepEqual(timelineDateRanges(EVENTS, T0 + 12_001).map((d) => d.id), ['layout-1', 'speaker-6', 'speaker-7']);
  const read = readM3u8(serializeMediaPlaylist(playlist(timelineDateRanges(EVENTS, T0 + 9_000), 9))) as any;
  assert.equal(read.dateRanges.length, 4);
});

test('a host name from a user cannot break the tag: quotes and line breaks replaced, length bounded; malformed events are TypeErrors', () => {
  const e = checkTimelineEvent(ev('speaker-1', 'speaker', 0, { 'host-id': 'h1', 'host-name': 'Eve "the"\r\n#EXT-X-ENDLIST' + 'x'.repeat(300) }));
  assert.equal(e.attributes['host-name']!.length, 200);
  const text = serializeMediaPlaylist(playlist(timelineDateRanges([e])));
  assert.equal(text.split('\n').filter((l) => l.startsWith('#EXT-X-ENDLIST')).length, 0);
  assert.equal(readM3u8(text).dateRanges instanceof Array, true);
  assert.throws(() => checkTimelineEvent(ev('bad id!', 'speaker', 0, {})), TypeError);
  assert.throws(() => checkTimelineEvent({ ...ev('x', 'speaker', 0, {}), kind: 'other' as never }), TypeError);
  assert.throws(() => checkTimelineEvent({ ...ev('x', 'speaker', 0, {}), at: Number.NaN }), TypeError);
  assert.throws(() => checkTimelineEvent(ev('x', 'speaker', 0, { 'X-Upper': 'v' })), TypeError);
});

test('DASH: events per Period in ms from its start; a turn still on when a Period starts is repeated at its start; points before it are not', () => {
  // Periods: [T0, T0+10 s) and [T0+10 s, …) (an FFmpeg restart at 10 s).
  const first = timelineDashEvents(EVENTS, T0, T0 + 10_000);
  assert.deepEqual(first.get('speaker')?.map((e) => [e.id, e.presentationTime, e.duration]), [['speaker-3', 1000, 7000], ['speaker-5', 8000, 2000]]);
  assert.deepEqual(first.get('host')?.map((e) => [e.id, e.presentationTime, e.duration]), [['host-2', 0, 0], ['host-4', 5000, 0]]);
  const second = timelineDashEvents(EVENTS, T0 + 10_000);
  assert.deepEqual(second.get('speaker')?.map((e) => [e.id, e.presentationTime, e.duration]), [['speaker-5', 0, 2000], ['speaker-6', 2000, 2000], ['speaker-7', 4000, undefined]]);
  assert.equal(second.get('host'), undefined);
  assert.deepEqual(second.get('layout')?.map((e) => [e.id, e.presentationTime]), [['layout-1', 0]]);
  assert.deepEqual(JSON.parse(second.get('speaker')![0]!.messageData!), { 'host-id': 'h2', 'host-name': 'Bob' });

  const mpd: Mpd = {
    type: 'static',
    availabilityStartTime: T0,
    publishTime: T0 + 20_000,
    mediaPresentationDuration: 20,
    maxSegmentDuration: 1,
    minBufferTime: 1,
    periods: [
      {
        id: 'p0',
        start: 0,
        eventStreams: [...first].map(([kind, events]) => ({ schemeIdUri: 'urn:stagecast:timeline:2026', value: `com.stagecast.${kind}`, events })),
        adaptationSets: [
          {
            id: 1,
            contentType: 'audio',
            mimeType: 'audio/mp4',
            representations: [
              { id: 'audio', bandwidth: 64000, codecs: 'mp4a.40.2', audioSamplingRate: 48000, channels: 2, timescale: 48000, initialization: 'audio/init-0.mp4', media: 'audio/seg-$Number$.m4s', startNumber: 0, presentationTimeOffset: 0, timeline: [{ t: 0, d: 480000 }] },
            ],
          },
        ],
      },
    ],
  };
  const xml = serializeMpd(mpd);
  assert.match(xml, /<EventStream schemeIdUri="urn:stagecast:timeline:2026" value="com.stagecast.speaker" timescale="1000">/);
  assert.match(xml, /<Event id="speaker-3" presentationTime="1000" duration="7000" messageData="\{&quot;host-id&quot;:&quot;h1&quot;,&quot;host-name&quot;:&quot;Alice&quot;\}"\/>/);
  // EventStream comes before the AdaptationSets in a Period (ISO/IEC 23009-1 schema order).
  assert.ok(xml.indexOf('<EventStream') < xml.indexOf('<AdaptationSet'));
  // mpd-parser (video.js's) reads the events back: seconds on the presentation, the message as sent.
  const read = readMpd(xml) as any;
  const speaker = read.eventStream.filter((e: any) => e.value === 'com.stagecast.speaker');
  assert.deepEqual(speaker.map((e: any) => [e.id, e.start, e.end]), [['speaker-3', 1, 8], ['speaker-5', 8, 10]]);
  assert.deepEqual(JSON.parse(speaker[1].messageData), { 'host-id': 'h2', 'host-name': 'Bob' });
});

test('chapters: one cue per speaker turn on the media time, a speaker\'s turns in a row merged, clipped to the media', () => {
  const vtt = timelineChaptersVtt(EVENTS, T0 + 500, T0 + 20_000);
  assert.equal(
    vtt,
    ['WEBVTT', '', 'chapter-1', '00:00:00.500 --> 00:00:07.500', 'Alice', '', 'chapter-2', '00:00:07.500 --> 00:00:11.500', 'Bob', '', 'chapter-3', '00:00:11.500 --> 00:00:19.500', 'Alice', ''].join('\n'),
  );
  assert.equal(timelineChaptersVtt([], T0, T0 + 1000), 'WEBVTT\n');
});
