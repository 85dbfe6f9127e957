/* eslint-disable @typescript-eslint/no-explicit-any -- the parsers return untyped objects */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { FsObjectStore } from '../../packager/index.ts';
import { captureCmaf, get, LADDER, shiftTfdt, splitCmaf, startHarness, type Harness } from './helpers.ts';
import { readM3u8, readMpd } from './readback.ts';

let cmaf: ReturnType<typeof splitCmaf>;
let root: string;
before(async () => {
  cmaf = splitCmaf(await captureCmaf(22, LADDER[1]!));
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'window-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const write = (w: Writable, buf: Buffer) => new Promise<void>((resolve, reject) => w.write(buf, (err) => (err ? reject(err) : resolve())));

/** Keyframe fragment indexes: segment boundaries of the captured stream. */
const keyframes = () => cmaf.fragments.flatMap((f, i) => (f.keyframe ? [i] : []));

test('live window: the playlist keeps only the last liveWindowMs, parts only on the newest ~3 target durations, MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE advance as a timestamp jump slides out', async () => {
  const h = await startHarness({ liveWindowMs: 4_000 });
  try {
    const b = h.packager.createBroadcast('win1');
    const w = b.openTrack('v');
    const track = b.track('v')!;
    const reasons: string[] = [];
    track.segmenter.on('discontinuity', (_s, reason) => reasons.push(reason));
    const jumpAt = keyframes()[8]!; // the 9th segment starts 100 s later: same init, time jumps
    const jump = 100 * cmaf.timescale;
    await write(w, cmaf.init);
    let lastMseq = -1;
    let sawDiscInWindow = false;
    let sawDiscSlideOut = false;
    for (const [i, f] of cmaf.fragments.entries()) {
      await write(w, i >= jumpAt ? shiftTfdt(f.bytes, jump) : f.bytes);
      if ((track.current?.msn ?? 0) < 5) continue;
      const text = (await get(`${h.base}/live/win1/v/index.m3u8`)).text;
      const m = readM3u8(text) as any;
      const firstMsn = Number(/seg-(\d+)/.exec(m.segments[0].uri)![1]);
      assert.equal(m.mediaSequence, firstMsn, 'MEDIA-SEQUENCE names the first listed segment');
      assert.ok(m.mediaSequence >= lastMseq && m.mediaSequence <= lastMseq + 1 || lastMseq < 0, `MEDIA-SEQUENCE ${lastMseq} → ${m.mediaSequence}`);
      lastMseq = m.mediaSequence;
      m.segments.forEach((s: any, k: number) => assert.equal(s.uri, `seg-${firstMsn + k}.m4s`));
      // Window: complete segments plus the parts of the one in progress cover 4 s, and no more than one segment beyond.
      const inProgress = (m.preloadSegment?.parts ?? []).reduce((a: number, p: any) => a + p.duration, 0);
      const listed = m.segments.reduce((a: number, s: any) => a + s.duration, 0) + inProgress;
      assert.ok(listed >= 4 - 0.01 && listed - m.segments[0].duration < 4, `window ${listed.toFixed(3)} s over ${m.segments.length} segments`);
      // Parts only on segments ending within 3 target durations of the live edge.
      let fromEdge = inProgress;
      for (let k = m.segments.length - 1; k >= 0; k--) {
        const s = m.segments[k];
        const ends = fromEdge;
        fromEdge += s.duration;
        if (ends >= 3) assert.equal(s.parts, undefined, `${s.uri} ends ${ends.toFixed(2)} s from the edge but lists parts`);
        else assert.ok(s.parts?.length > 0, `${s.uri} ends ${ends.toFixed(2)} s from the edge and should list parts`);
      }
      // Discontinuity numbering: every segment from the jump on is in discontinuity 1, before it 0 —
      // stable while the tagged segment is listed and after it slid out.
      const jumpMsn = track.segments.find((s) => s.discontinuity)?.msn;
      for (const [k, s] of m.segments.entries()) {
        const msn = firstMsn + k;
        assert.equal(s.timeline, jumpMsn !== undefined && msn >= jumpMsn ? 1 : 0, `discontinuity sequence of ${s.uri}\n${text}`);
        // The tag sits on the jump segment, except when it is the first listed one (its number then says it).
        assert.equal(s.discontinuity ?? false, msn === jumpMsn && k > 0, `EXT-X-DISCONTINUITY on ${s.uri}`);
        assert.equal(s.map.uri, jumpMsn !== undefined && msn >= jumpMsn ? 'init-1.mp4' : 'init-0.mp4');
      }
      if (jumpMsn !== undefined && firstMsn < jumpMsn) {
        sawDiscInWindow = true;
        assert.match(text, /#EXT-X-DISCONTINUITY-SEQUENCE:0\n/);
      }
      if (jumpMsn !== undefined && firstMsn >= jumpMsn) {
        sawDiscSlideOut = true;
        assert.match(text, /#EXT-X-DISCONTINUITY-SEQUENCE:1\n/);
        assert.doesNotMatch(text, /#EXT-X-DISCONTINUITY\n/);
      }
    }
    assert.deepEqual(reasons, ['timestamp-jump'], 'a timestamp jump within one session is a discontinuity');
    assert.ok(sawDiscInWindow && sawDiscSlideOut, 'the discontinuity was seen in the window and sliding out');
    assert.ok(lastMseq >= 14, `the window slid (MEDIA-SEQUENCE ${lastMseq})`);
    // DASH: the jump starts a new Period.
    const mpd = (await get(`${h.base}/live/win1/manifest.mpd`)).text;
    assert.match(mpd, /<Period id="p1"/);
    readMpd(mpd);
    w.end();
  } finally {
    await h.close();
  }
});

test('DVR window: playlists list dvrWindowMs, parts only on the newest segments, and media older than the memory window comes from the store', async () => {
  const store = new FsObjectStore(path.join(root, 'dvr'));
  const h: Harness = await startHarness({ liveWindowMs: 3_000, dvrWindowMs: 10_000 }, store);
  try {
    const b = h.packager.createBroadcast('dvr1');
    const w = b.openTrack('v');
    for (const buf of [cmaf.init, ...cmaf.fragments.map((f) => f.bytes)]) await write(w, buf);
    await h.packager.publisher!.drain();
    const track = b.track('v')!;
    const text = (await get(`${h.base}/live/dvr1/v/index.m3u8`)).text;
    const m = readM3u8(text) as any;
    const inProgress = (m.preloadSegment?.parts ?? []).reduce((a: number, p: any) => a + p.duration, 0);
    const listed = m.segments.reduce((a: number, s: any) => a + s.duration, 0) + inProgress;
    assert.ok(listed >= 10 - 0.01 && listed < 11, `DVR window ${listed} s`);
    assert.ok(m.segments.filter((s: any) => s.parts).length <= 3, 'parts only on the newest segments');
    const oldest = m.segments[0].uri as string;
    const oldestSeg = track.segment(Number(/seg-(\d+)/.exec(oldest)![1]))!;
    assert.equal(oldestSeg.bytes, undefined, 'the oldest DVR segment is no longer in memory');
    const r = await get(`${h.base}/live/dvr1/v/${oldest}`);
    assert.equal(r.status, 200, 'served from the store');
    assert.equal(r.body.length, oldestSeg.byteLength);
    const mpd = (await get(`${h.base}/live/dvr1/manifest.mpd`)).text;
    assert.match(mpd, /timeShiftBufferDepth="PT10S"/);
    w.end();
  } finally {
    await h.close();
  }
});
