// Side content built once per change (issue 19): the thumbnails track
// (thumbnails.vtt) and the EXT-X-DATERANGEs of the media playlists are kept
// between requests and rebuilt after what they derive from changes: the
// broadcast's version (parts, segments, sessions) or the thumbnails for the
// former, the timeline events or the window's first segment for the latter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../common/index.ts';
import { createPackager, type Broadcast, type Segment, type TimelineEvent } from '../../packager/index.ts';
import { ThumbnailTrack, type ThumbnailSource } from '../../packager/thumbnailTrack.ts';
import { BroadcastTimeline } from '../../packager/broadcastTimeline.ts';
import { VIDEO, fragments, initSegment, write } from './syntheticCmaf.ts';

const T0 = Date.UTC(2026, 11, 6, 18, 0, 0);
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]);
const CONFIG = { liveWindowMs: 12_000, dvrWindowMs: 0, segmentTargetMs: 1000 };

const segment = (msn: number): Segment => ({
  msn,
  period: 0,
  discontinuity: false,
  discontinuitySequence: 0,
  start: msn * 90_000,
  duration: 90_000,
  timescale: 90_000,
  programDateTime: T0 + msn * 1000,
  parts: [],
  byteLength: 0,
  complete: true,
  bytes: undefined,
});

/** A video track whose segment list counts its reads: a read is a rebuild. */
function countingTrack(segments: Segment[]): ThumbnailSource & { reads: number } {
  return {
    kind: 'video',
    runOfPeriod: new Map([[0, 1]]),
    reads: 0,
    get segments() {
      this.reads++;
      return segments;
    },
  };
}

test('thumbnails.vtt: the same text for the same broadcast version, rebuilt when the version or the thumbnails change', () => {
  const thumbs = new ThumbnailTrack(CONFIG);
  const segs = [segment(0), segment(1)];
  const track = countingTrack(segs);
  assert.equal(thumbs.vtt([track], 1), undefined, 'no thumbnails yet');
  thumbs.add({ run: 1, index: 0, mediaMs: 0 }, JPEG);
  thumbs.add({ run: 1, index: 1, mediaMs: 1000 }, JPEG);
  const first = thumbs.vtt([track], 1);
  assert.equal(first?.match(/-->/g)?.length, 2);
  const reads = track.reads;
  assert.equal(thumbs.vtt([track], 1), first);
  assert.equal(track.reads, reads, 'a second request at the same version reads nothing');

  // A segment lands: the broadcast's version moves, and the track is rebuilt.
  segs.push(segment(2));
  thumbs.add({ run: 1, index: 2, mediaMs: 2000 }, JPEG);
  const withThird = thumbs.vtt([track], 2);
  assert.ok(track.reads > reads);
  assert.equal(withThird?.match(/-->/g)?.length, 3);
  assert.match(withThird!, /00:00:02.000 --> 00:00:03.000\nthumbs\/thumb-1-2.jpg/);

  // A thumbnail alone does not move the version: the count does.
  segs.push(segment(3));
  assert.equal(thumbs.vtt([track], 2), withThird, 'same version, same thumbnails: the cached text');
  thumbs.add({ run: 1, index: 3, mediaMs: 3000 }, JPEG);
  assert.equal(thumbs.vtt([track], 2)?.match(/-->/g)?.length, 4);
  thumbs.add({ run: 1, index: 3, mediaMs: 3000 }, JPEG); // a repeated name is ignored: still cached
  const reads2 = track.reads;
  thumbs.vtt([track], 2);
  assert.equal(track.reads, reads2);
});

test('date ranges: the same list for the same window start until an event is added', () => {
  const timeline = new BroadcastTimeline();
  const ev = (id: string, s: number): TimelineEvent => ({ id, kind: 'speaker', at: T0 + s * 1000, attributes: { 'host-id': id } });
  timeline.add(ev('a', 1));
  const ranges = timeline.dateRanges(T0);
  assert.equal(timeline.dateRanges(T0), ranges, 'the cached list');
  assert.notEqual(timeline.dateRanges(T0 + 500), ranges, 'another window start has its own');
  assert.equal(timeline.dateRanges(T0), ranges, 'and both are kept');
  timeline.add(ev('b', 3));
  const after = timeline.dateRanges(T0);
  assert.notEqual(after, ranges);
  assert.deepEqual(after.map((r) => r.id), ['a', 'b']);
  assert.equal(timeline.dateRanges(T0), after);
  // Past a handful of window starts the oldest goes (a live window slides forward).
  for (let i = 1; i <= 16; i++) timeline.dateRanges(T0 + i * 1000);
  assert.notEqual(timeline.dateRanges(T0), after, 'rebuilt after being evicted');
  assert.deepEqual(timeline.dateRanges(T0), after);
});

async function broadcastWithVideo(): Promise<{ b: Broadcast; feed: (from: number, count: number) => Promise<void> }> {
  const b = createPackager({ segmentTargetMs: 1000 }, { logger: silentLogger() }).createBroadcast('cache');
  const w = b.openTrack('video', 5); // the transcoder's run 5: what its thumbnails are numbered by
  await write(w, initSegment(VIDEO));
  const feed = async (from: number, count: number) => {
    for (const f of fragments(VIDEO, from, count)) await write(w, f);
  };
  return { b, feed };
}

test('a broadcast answers thumbnails.vtt from its cache between changes and rebuilds it after a segment or a thumbnail', async () => {
  const { b, feed } = await broadcastWithVideo();
  await feed(0, 16); // three complete segments, a fourth in progress
  b.addThumbnail({ run: 5, index: 0, mediaMs: 0 }, JPEG);
  const text = b.thumbnailsText();
  assert.equal(text?.match(/-->/g)?.length, 1);
  const version = b.version;
  assert.equal(b.textFile('thumbnails.vtt'), text);
  assert.equal(b.version, version);
  b.addThumbnail({ run: 5, index: 1, mediaMs: 1000 }, JPEG);
  assert.equal(b.version, version, 'a thumbnail does not move the version');
  const two = b.thumbnailsText();
  assert.equal(two?.match(/-->/g)?.length, 2, 'but it is in the next answer');
  await feed(16, 5); // the fourth segment completes
  assert.ok(b.version > version);
  assert.match(b.thumbnailsText()!, /00:00:00.000 --> 00:00:01.000\nthumbs\/thumb-5-0.jpg\n\n00:00:01.000 --> 00:00:02.000\nthumbs\/thumb-5-1.jpg/);
  b.end();
});

test('a broadcast\'s media playlists share one date-range list while the window and the timeline stay, and list a new event at once', async () => {
  const { b, feed } = await broadcastWithVideo();
  await feed(0, 16);
  const pdt = b.track('video')!.segments[0]!.programDateTime;
  b.addTimelineEvent({ id: 'speaker-1', kind: 'speaker', at: pdt + 100, attributes: { 'host-id': 'h1' } });
  const before = b.mediaPlaylist('video')!;
  await feed(16, 1); // a part: a new version, the same window
  const after = b.mediaPlaylist('video')!;
  assert.notEqual(b.mediaPlaylistText('video'), undefined);
  assert.equal(after.mediaSequence, before.mediaSequence);
  assert.equal(after.dateRanges, before.dateRanges, 'one list for both versions');
  b.addTimelineEvent({ id: 'speaker-2', kind: 'speaker', at: pdt + 200, attributes: { 'host-id': 'h2' } });
  assert.deepEqual(b.mediaPlaylist('video')!.dateRanges?.map((d) => d.id), ['speaker-1', 'speaker-2']);
  assert.match(b.mediaPlaylistText('video')!, /ID="speaker-2"/);
  b.end();
});
