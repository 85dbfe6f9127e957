// Thumbnails of a broadcast (packager/thumbnails.ts): names, the JPEG check, which
// thumbnail a segment gets (by source session and media time), and the WebVTT
// thumbnails track on the playlist's timeline across a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isJpeg, parseThumbnailName, thumbnailName, thumbnailsVtt, type ThumbnailRef, type ThumbnailSegment } from '../../packager/thumbnails.ts';

const seg = (session: number, startS: number, durS = 1): ThumbnailSegment => ({ run: session, start: startS * 90_000, duration: durS * 90_000, timescale: 90_000 });
const thumb = (session: number, index: number, segMs = 1000): ThumbnailRef => ({ run: session, mediaMs: index * segMs, name: thumbnailName(session, index) });

test('names round-trip, and nothing else parses as one', () => {
  assert.equal(thumbnailName(2, 17), 'thumb-2-17.jpg');
  assert.deepEqual(parseThumbnailName('thumb-2-17.jpg'), { run: 2, index: 17 });
  for (const bad of ['thumb-2-17.png', '../thumb-1-1.jpg', 'thumb--1-1.jpg', 'thumb-1-1.jpg.meta.json', 'seg-1.m4s']) assert.equal(parseThumbnailName(bad), undefined, bad);
  assert.equal(isJpeg(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10])), true);
  assert.equal(isJpeg(Buffer.from('<svg></svg>')), false);
  assert.equal(isJpeg(Buffer.alloc(0)), false);
});

test('the thumbnails track: a cue per segment with a thumbnail, on the playlist timeline (durations summed across a restart), images relative to the track', () => {
  // Session 1: three 1 s segments from media time 0; session 2 (a restart) starts again at 0, one 2 s segment then a 1 s one.
  const segments = [seg(1, 0), seg(1, 1), seg(1, 2), seg(2, 0, 2), seg(2, 2)];
  const thumbs = [thumb(1, 0), thumb(1, 1), thumb(1, 2), thumb(2, 0), thumb(2, 2)];
  assert.equal(
    thumbnailsVtt(segments, thumbs),
    [
      'WEBVTT', '',
      '00:00:00.000 --> 00:00:01.000', 'thumbs/thumb-1-0.jpg', '',
      '00:00:01.000 --> 00:00:02.000', 'thumbs/thumb-1-1.jpg', '',
      '00:00:02.000 --> 00:00:03.000', 'thumbs/thumb-1-2.jpg', '',
      '00:00:03.000 --> 00:00:05.000', 'thumbs/thumb-2-0.jpg', '',
      '00:00:05.000 --> 00:00:06.000', 'thumbs/thumb-2-2.jpg', '',
    ].join('\n'),
  );
  // A segment without its thumbnail (lost, or from another session's numbering) has no cue; the timeline still counts it.
  const sparse = thumbnailsVtt(segments, [thumb(1, 0), thumb(2, 2)]);
  assert.match(sparse, /00:00:00.000 --> 00:00:01.000\nthumbs\/thumb-1-0.jpg/);
  assert.match(sparse, /00:00:05.000 --> 00:00:06.000\nthumbs\/thumb-2-2.jpg/);
  assert.equal(sparse.match(/-->/g)!.length, 2);
  // A thumbnail a few ms before its keyframe still belongs to that segment.
  assert.match(thumbnailsVtt([seg(1, 0), seg(1, 1)], [{ run: 1, mediaMs: 990, name: 'thumb-1-1.jpg' }]), /00:00:01.000 --> 00:00:02.000\nthumbs\/thumb-1-1.jpg/);
  assert.equal(thumbnailsVtt([], []), 'WEBVTT\n');
});

test('a day of 1 s segments (86,400, two sessions): every segment gets its own thumbnail', () => {
  const half = 43_200;
  const segments = Array.from({ length: 2 * half }, (_, i) => seg(i < half ? 1 : 2, i % half));
  const thumbs = Array.from({ length: 2 * half }, (_, i) => thumb(i < half ? 1 : 2, i % half));
  const vtt = thumbnailsVtt(segments, thumbs.reverse());
  const names = [...vtt.matchAll(/^thumbs\/(thumb-\d+-\d+\.jpg)$/gm)].map((m) => m[1]);
  assert.equal(names.length, 2 * half);
  assert.equal(names[half - 1], 'thumb-1-43199.jpg');
  assert.equal(names[half], 'thumb-2-0.jpg');
  assert.match(vtt, /23:59:59.000 --> 24:00:00.000\nthumbs\/thumb-2-43199.jpg/);
});
