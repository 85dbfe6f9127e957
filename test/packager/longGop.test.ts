/* eslint-disable @typescript-eslint/no-explicit-any -- the parsers return untyped objects */
// A publisher whose GOP is longer than the packager's segment target (passthrough:
// keyframes come from the publisher). Real FFmpeg, real packager, playlists read
// back as a player reloads them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Broadcast } from '../../packager/index.ts';
import { FRAGMENT_US, get, runFfmpeg, startHarness, until, type FfmpegRun, type Harness } from './helpers.ts';
import { readM3u8, readMpd } from './readback.ts';

const B = 'longgop';
/** Keyframe interval of the "publisher", s; the packager's target stays 1 s. */
const GOP_S = 2.5;
const SECONDS = 26;
const CMAF = ['-movflags', '+frag_keyframe+empty_moov+default_base_moof+cmaf', '-frag_duration', String(FRAGMENT_US), '-f', 'mp4'];

let h: Harness;
let run: FfmpegRun;
let b: Broadcast;

/** testsrc2 + sine in real time: H.264 with a keyframe every GOP_S (no scene cuts), AAC; CMAF on pipe:3 and pipe:4. */
function longGopArgs(): string[] {
  const fps = 30;
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-re', '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=${fps}`,
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-map', '0:v', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-b:v', '200k',
    '-g', String(GOP_S * fps), '-keyint_min', String(GOP_S * fps), '-sc_threshold', '0', '-force_key_frames', `expr:gte(t,n_forced*${GOP_S})`,
    '-t', String(SECONDS), ...CMAF, 'pipe:3',
    '-map', '1:a', '-c:a', 'aac', '-b:a', '64k', '-ar', '48000', '-ac', '2',
    '-t', String(SECONDS), ...CMAF, 'pipe:4',
  ];
}

before(async () => {
  h = await startHarness({ segmentTargetMs: 1000 });
  b = h.packager.createBroadcast(B, { expectedTracks: ['video', 'audio'] });
  run = runFfmpeg(longGopArgs(), 2);
  (run.child.stdio[3] as NodeJS.ReadableStream).pipe(b.openTrack('video'));
  (run.child.stdio[4] as NodeJS.ReadableStream).pipe(b.openTrack('audio'));
});

after(async () => {
  await run?.stop();
  await h?.close();
});

/** The rules a playlist must keep about its target duration; returns it. */
function checkTargetRules(id: string, m: any, live: boolean): number {
  const td = m.targetDuration as number;
  assert.ok(Number.isInteger(td) && td >= 1, `${id}: TARGETDURATION ${td}`);
  m.segments.forEach((s: any) => assert.ok(Math.round(s.duration) <= td, `${id} ${s.uri}: round(EXTINF ${s.duration}) > TARGETDURATION ${td}`));
  if (live) {
    const sc = m.serverControl ?? {};
    if (sc.holdBack !== undefined) assert.ok(sc.holdBack >= 3 * td, `${id}: HOLD-BACK ${sc.holdBack} < 3 × ${td}`);
    if (sc.canSkipUntil !== undefined) assert.ok(sc.canSkipUntil >= 6 * td, `${id}: CAN-SKIP-UNTIL ${sc.canSkipUntil} < 6 × ${td}`);
    assert.ok(sc.partHoldBack >= 2 * m.partTargetDuration, `${id}: PART-HOLD-BACK ${sc.partHoldBack}`);
    // §6.2.2: a live playlist lasts at least three target durations.
    const listed = m.segments.reduce((a: number, s: any) => a + s.duration, 0);
    assert.ok(listed >= 3 * td - 0.001, `${id}: ${listed} s listed < 3 × TARGETDURATION ${td}`);
  }
  return td;
}

test('a GOP longer than the segment target: every round(EXTINF) ≤ TARGETDURATION, which never shrinks across reloads; HOLD-BACK ≥ 3 × it', async () => {
  await until(h.packager, B, () => b.mediaPlaylistText('video') !== undefined, 20_000, 'the video playlist');
  const url = `${h.base}/live/${B}/video/index.m3u8`;
  const last = { video: 0, audio: 0 };
  let longest = 0;
  let next: { msn: number; part: number } | undefined;
  let firstOpen: number | undefined;
  let reloads = 0;
  // Reload as an LL-HLS player does (blocking, part by part) until three more long segments are listed.
  for (;;) {
    const r = await get(next ? `${url}?_HLS_msn=${next.msn}&_HLS_part=${next.part}` : url);
    assert.equal(r.status, 200, r.text);
    const m = readM3u8(r.text) as any;
    const td = checkTargetRules('video', m, true);
    assert.ok(td >= last.video, `video: TARGETDURATION went from ${last.video} to ${td}`);
    last.video = td;
    for (const s of m.segments) longest = Math.max(longest, s.duration);
    const a = readM3u8((await get(`${h.base}/live/${B}/audio/index.m3u8`)).text) as any;
    const atd = checkTargetRules('audio', a, true);
    assert.ok(atd >= last.audio, `audio: TARGETDURATION went from ${last.audio} to ${atd}`);
    last.audio = atd;
    reloads++;
    const open: number = m.mediaSequence + m.segments.length;
    firstOpen ??= open;
    if (open >= firstOpen + 3) break;
    next = { msn: open, part: m.preloadSegment?.parts?.length ?? 0 };
  }
  assert.ok(reloads > 10, `${reloads} reloads`);
  assert.ok(longest >= GOP_S - 0.1, `the long GOP reached the playlist (longest EXTINF ${longest})`);
  assert.ok(last.video >= Math.round(GOP_S), `video TARGETDURATION ${last.video}`);
});

test('the live MPD leaves number addressing for a SegmentTimeline on a track whose segments are off the target grid', async () => {
  const text = (await get(`${h.base}/live/${B}/manifest.mpd`)).text;
  const rep = (id: string) => new RegExp(`<Representation id="${id}"[\\s\\S]*?</Representation>`).exec(text)?.[0] ?? '';
  assert.match(rep('video'), /<SegmentTimeline>/, 'video segments are 2.5 s on a 1 s grid');
  assert.doesNotMatch(rep('video'), /<SegmentTemplate [^>]*duration=/);
  assert.match(rep('audio'), /<SegmentTemplate [^>]*duration="48000"/, 'audio stays on the grid: number addressing');
  // Each number the timeline gives is the segment of that duration.
  const m = readMpd(text, `${h.base}/live/${B}/manifest.mpd`) as any;
  const video = m.playlists.find((p: any) => p.attributes.NAME === 'video');
  const track = b.track('video')!;
  assert.ok(video.segments.length >= 2);
  for (const s of video.segments) {
    const msn = Number(/seg-(\d+)\.m4s$/.exec(s.uri)![1]);
    const seg = track.segment(msn)!;
    assert.ok(Math.abs(seg.duration / seg.timescale - s.duration) < 0.01, `seg-${msn}: ${s.duration} vs ${seg.duration / seg.timescale}`);
  }
});

test('after the end, the VOD playlist takes the longest of its own segments as TARGETDURATION', async () => {
  await run.exited;
  b.end();
  const m = readM3u8((await get(`${h.base}/live/${B}/video/index.m3u8`)).text) as any;
  assert.equal(m.endList, true);
  const td = checkTargetRules('video VOD', m, false);
  assert.equal(td, Math.max(...m.segments.map((s: any) => Math.round(s.duration))));
});
