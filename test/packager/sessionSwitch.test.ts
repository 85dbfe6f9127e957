// A new source session (an FFmpeg restart, make before break) takes over a track
// only once it has media, and on every track of the broadcast at once: the old
// session feeds viewers until then, and audio and video change sessions at the
// same point (same discontinuity count, same PROGRAM-DATE-TIME anchor).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Writable } from 'node:stream';
import { silentLogger } from '../../common/index.ts';
import { createPackager, type Broadcast } from '../../packager/index.ts';
import { captureCmaf, LADDER, splitCmaf } from './helpers.ts';

type Cmaf = ReturnType<typeof splitCmaf>;
let video: Cmaf;
let audio: Cmaf;
const V = 'video-180p';
const A = 'audio';

before(async () => {
  [video, audio] = await Promise.all([captureCmaf(8, LADDER[1]!).then(splitCmaf), captureCmaf(8, LADDER[2]!).then(splitCmaf)]);
});

const write = (w: Writable, buf: Buffer) => new Promise<void>((resolve, reject) => w.write(buf, (err) => (err ? reject(err) : resolve())));
async function feed(w: Writable, c: Cmaf, from: number, to: number, init = false): Promise<void> {
  if (init) await write(w, c.init);
  for (const f of c.fragments.slice(from, to)) await write(w, f.bytes);
}

function broadcast(id: string): Broadcast {
  return createPackager({ segmentTargetMs: 1000 }, { logger: silentLogger() }).createBroadcast(id, { expectedTracks: [V, A] });
}

const parts = (b: Broadcast, id: string) => b.track(id)!.segments.reduce((n, s) => n + s.parts.length, 0);
const sessionOf = (b: Broadcast, id: string) => b.track(id)!.current!.period;

test('a new session takes over only when every track has its media; until then the old one feeds them, then both change at the same point', async () => {
  const b = broadcast('switch');
  const oldV = b.openTrack(V, 1);
  const oldA = b.openTrack(A, 1);
  await feed(oldV, video, 0, 10, true);
  await feed(oldA, audio, 0, 10, true);
  assert.equal(sessionOf(b, V), 0);

  // FFmpeg's next run opens its outputs long before it has media: nothing changes.
  const newV = b.openTrack(V, 2);
  const newA = b.openTrack(A, 2);
  const before = { v: parts(b, V), a: parts(b, A) };
  await feed(oldV, video, 10, 14);
  await feed(oldA, audio, 10, 14);
  assert.equal(parts(b, V), before.v + 4, 'the old session still feeds video');
  assert.equal(parts(b, A), before.a + 4, 'the old session still feeds audio');

  // The new run's audio comes first: held; the old session goes on on both tracks.
  await feed(newA, audio, 0, 2, true);
  assert.equal(sessionOf(b, A), 0, 'audio waits for video');
  await feed(oldV, video, 14, 15);
  await feed(oldA, audio, 14, 15);
  assert.equal(parts(b, A), before.a + 5);

  // The new run's video arrives: both tracks switch, the held audio goes out.
  await feed(newV, video, 0, 1, true);
  assert.equal(sessionOf(b, V), 1);
  assert.equal(sessionOf(b, A), 1);
  const [v, a] = [b.track(V)!, b.track(A)!];
  const firstNew = (t: typeof v) => t.segments.find((s) => s.period === 1)!;
  assert.equal(firstNew(a).parts.length, 2, 'the held audio fragments are in the new session');
  assert.equal(firstNew(v).discontinuity, true);
  assert.equal(firstNew(a).discontinuity, true);
  assert.equal(firstNew(v).discontinuitySequence, firstNew(a).discontinuitySequence, 'same discontinuity count on both tracks');
  assert.equal(firstNew(v).programDateTime, firstNew(a).programDateTime, 'one PROGRAM-DATE-TIME anchor for the new session');
  assert.equal(v.segments.filter((s) => s.discontinuity).length, 1);
  assert.equal(a.segments.filter((s) => s.discontinuity).length, 1);

  // The old run's pushes are closed, not failed.
  assert.ok(oldV.destroyed && oldA.destroyed);
  assert.equal(v.failure, undefined);
  b.end();
});

test('a track whose siblings have no media from the new session switches alone after two segment durations; a late sibling then follows at once', async (t) => {
  const b = broadcast('alone');
  await feed(b.openTrack(V, 1), video, 0, 10, true);
  await feed(b.openTrack(A, 1), audio, 0, 10, true);
  const newV = b.openTrack(V, 2); // the new run's video is late
  const newA = b.openTrack(A, 2);
  // The wait is by the clock, not by media held: FFmpeg bursts its buffered audio when it starts.
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  await feed(newA, audio, 0, 12, true); // 2.5 s of media at once: still held
  assert.equal(sessionOf(b, A), 0, 'a burst of media does not switch it alone');
  t.mock.timers.tick(2000);
  await feed(newA, audio, 12, 13);
  assert.equal(sessionOf(b, A), 0, 'held for two segment durations: still waiting');
  t.mock.timers.tick(10);
  await feed(newA, audio, 13, 14);
  assert.equal(sessionOf(b, A), 1, 'switched alone once held for more than two segment durations');
  assert.equal(sessionOf(b, V), 0);
  // When the late video does come, it switches at its first fragment: audio is on that source already.
  await feed(newV, video, 0, 1, true);
  assert.equal(sessionOf(b, V), 1);
  b.end();
});

test('a bad new session is dropped with an error and the old one goes on; the track fails only with nothing else feeding it', async () => {
  const b = broadcast('bad');
  const oldV = b.openTrack(V, 1);
  await feed(oldV, video, 0, 5, true);
  await feed(b.openTrack(A, 1), audio, 0, 5, true);
  assert.equal(sessionOf(b, V), 0);
  const bad = b.openTrack(V, 2);
  bad.on('error', () => {}); // the write's callback gets it
  await assert.rejects(write(bad, Buffer.from('not a CMAF stream, just text that goes on for a while')), /unexpected top-level box|not a CMAF stream/);
  assert.equal(b.track(V)!.failure, undefined, 'the old session still feeds the track');
  const n = parts(b, V);
  await feed(oldV, video, 5, 8);
  assert.equal(parts(b, V), n + 3);

  const fresh = b.openTrack('video-360p', 1);
  fresh.on('error', () => {});
  await assert.rejects(write(fresh, Buffer.from('garbage garbage garbage garbage garbage garbage')));
  assert.match(String(b.track('video-360p')!.failure?.message), /not a CMAF stream|unexpected top-level box/);
  b.end();
});

test('a session without a source number (an HTTP push) takes over alone, at its first fragment', async () => {
  const b = createPackager({}, { logger: silentLogger() }).createBroadcast('http');
  const first = b.openTrack(V);
  await feed(first, video, 0, 5, true);
  const second = b.openTrack(V);
  await write(second, video.init);
  await feed(first, video, 5, 6);
  assert.equal(sessionOf(b, V), 0, 'an init alone switches nothing');
  await feed(second, video, 0, 1);
  assert.equal(sessionOf(b, V), 1);
  assert.ok(first.destroyed);
  b.end();
});
