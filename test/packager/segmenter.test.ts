// The pure Segmenter (packager/segmenter.ts) driven directly, without FFmpeg:
// tables of fragments in, parts, segments, discontinuities and
// PROGRAM-DATE-TIMEs out. Video cuts on keyframes (capped at three targets),
// audio on the segment-target time grid; a timestamp jump or a new init is a
// discontinuity; the preload-hint rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Segmenter } from '../../packager/segmenter.ts';
import type { FragmentInfo, InitInfo, Segment } from '../../packager/types.ts';

const VIDEO: InitInfo = { kind: 'video', trackId: 1, timescale: 90_000, codec: 'avc1.42c01e', width: 640, height: 360, defaultSampleDuration: 3000, defaultSampleFlags: 0 };
const AUDIO: InitInfo = { kind: 'audio', trackId: 1, timescale: 48_000, codec: 'mp4a.40.2', sampleRate: 48_000, channels: 2, defaultSampleDuration: 1024, defaultSampleFlags: 0 };
const T0 = Date.UTC(2026, 11, 6, 18, 0, 0);

/** A fragment: decode time and duration in ticks, keyframe or not. */
const frag = (decodeTime: number, duration: number, keyframe: boolean, n = 0): FragmentInfo => ({ sequenceNumber: n, decodeTime, duration, sampleCount: 6, keyframe, firstSampleDuration: 3000 });

interface Run {
  segments: Segment[];
  events: string[];
  seg: Segmenter;
}

/** Feeds one init and fragments (arriving in real time from T0) and records what comes out. */
function run(info: InitInfo, frags: FragmentInfo[], opts: { segmentTargetMs?: number; maxTimestampGapMs?: number } = {}): Run {
  const seg = new Segmenter({ segmentTargetMs: opts.segmentTargetMs ?? 1000, maxTimestampGapMs: opts.maxTimestampGapMs ?? 1000 });
  const segments: Segment[] = [];
  const events: string[] = [];
  seg.on('init', (i) => events.push(`init ${i.period}`));
  seg.on('discontinuity', (s, why) => events.push(`discontinuity ${s} ${why}`));
  seg.on('part', (s, p) => events.push(`part ${s.msn}.${p.index}${p.independent ? ' I' : ''}`));
  seg.on('segment', (s) => {
    segments.push(s);
    events.push(`segment ${s.msn}`);
  });
  seg.onInit(info, Buffer.from('init'));
  for (const f of frags) seg.onFragment(f, Buffer.alloc(10), T0 + ((f.decodeTime + f.duration) / info.timescale) * 1000);
  seg.flush();
  return { segments, events, seg };
}

test('video: a segment per keyframe, parts of 200 ms inside, PROGRAM-DATE-TIME from the first fragment', () => {
  // 2 s of 200 ms fragments (18000 ticks), a keyframe every second.
  const frags = Array.from({ length: 10 }, (_, i) => frag(i * 18_000, 18_000, i % 5 === 0));
  const { segments } = run(VIDEO, frags);
  assert.deepEqual(
    segments.map((s) => [s.msn, s.start, s.duration, s.parts.length, s.parts.map((p) => p.independent).join(''), s.programDateTime - T0, s.discontinuity, s.complete, s.bytes?.length]),
    [
      [0, 0, 90_000, 5, 'truefalsefalsefalsefalse', 0, false, true, 50],
      [1, 90_000, 90_000, 5, 'truefalsefalsefalsefalse', 1000, false, true, 50],
    ],
  );
});

test('video: a GOP longer than the target is one segment up to three targets, then cut without a keyframe', () => {
  // One keyframe, then 4 s of fragments: cut at 3 s, the rest a segment of its own.
  const frags = Array.from({ length: 20 }, (_, i) => frag(i * 18_000, 18_000, i === 0));
  const { segments } = run(VIDEO, frags);
  assert.deepEqual(
    segments.map((s) => [s.start / 90_000, s.duration / 90_000, s.parts[0]!.independent]),
    [
      [0, 3, true],
      [3, 1, false],
    ],
  );
});

test('audio: cut on the segment-target grid at the part whose middle crosses it, so audio lines up with video', () => {
  // 192 ms AAC parts (9216 ticks at 48 kHz): boundaries fall between parts.
  const frags = Array.from({ length: 16 }, (_, i) => frag(i * 9216, 9216, true));
  const { segments } = run(AUDIO, frags);
  const bounds = segments.map((s) => [Number((s.start / 48_000).toFixed(3)), s.parts.length]);
  assert.deepEqual(bounds, [
    [0, 5],
    [0.96, 5],
    [1.92, 6],
  ]);
  for (const s of segments.slice(1)) assert.ok(Math.abs(s.start / 48_000 - Math.round(s.start / 48_000)) <= 0.096, `segment ${s.msn} starts within half a part of a whole second`);
});

test('a timestamp jump (or a step back) is a discontinuity under a new session; a new init is one too; numbers keep counting', () => {
  const { segments, events } = run(VIDEO, [frag(0, 18_000, true), frag(18_000, 18_000, false), frag(900_000, 18_000, true), frag(918_000, 18_000, false), frag(0, 18_000, true)]);
  assert.deepEqual(
    events.filter((e) => !e.startsWith('part')),
    ['init 0', 'segment 0', 'discontinuity 1 timestamp-jump', 'init 1', 'segment 1', 'discontinuity 2 timestamp-jump', 'init 2', 'segment 2'],
  );
  assert.deepEqual(
    segments.map((s) => [s.msn, s.period, s.discontinuity, s.discontinuitySequence]),
    [
      [0, 0, false, 0],
      [1, 1, true, 1],
      [2, 2, true, 2],
    ],
  );
  // A new source session (an FFmpeg restart): a discontinuity at the next segment.
  const seg = new Segmenter({ segmentTargetMs: 1000, maxTimestampGapMs: 1000 });
  const out: Segment[] = [];
  seg.on('segment', (s) => out.push(s));
  const reasons: string[] = [];
  seg.on('discontinuity', (_s, why) => reasons.push(why));
  seg.onInit(VIDEO, Buffer.from('a'));
  seg.onFragment(frag(0, 18_000, true), Buffer.alloc(1), T0);
  seg.onInit(VIDEO, Buffer.from('b'));
  seg.onFragment(frag(0, 18_000, true), Buffer.alloc(1), T0 + 5000);
  seg.flush();
  assert.deepEqual(reasons, ['restart']);
  assert.deepEqual(
    out.map((s) => [s.msn, s.period, s.discontinuity, s.programDateTime - T0]),
    [
      [0, 0, false, -200],
      [1, 1, true, 4800],
    ],
    'the new session anchors its clock on its own first fragment',
  );
});

test('a shared anchor: a second track of the same source takes the first one\'s clock (their PROGRAM-DATE-TIMEs agree)', () => {
  const anchors = new Map<number, { wallMs: number; mediaSeconds: number }>();
  const anchor = (session: number, proposed: { wallMs: number; mediaSeconds: number }) => {
    if (!anchors.has(session)) anchors.set(session, proposed);
    return anchors.get(session)!;
  };
  const v = new Segmenter({ segmentTargetMs: 1000, maxTimestampGapMs: 1000, anchor });
  const a = new Segmenter({ segmentTargetMs: 1000, maxTimestampGapMs: 1000, anchor });
  const pdt: number[] = [];
  v.on('part', (s) => pdt.push(s.programDateTime));
  a.on('part', (s) => pdt.push(s.programDateTime));
  v.onInit(VIDEO, Buffer.from('v'));
  a.onInit(AUDIO, Buffer.from('a'));
  v.onFragment(frag(0, 18_000, true), Buffer.alloc(1), T0 + 200);
  // Audio's first fragment arrives 300 ms later than its media time says: it still gets video's clock.
  a.onFragment(frag(0, 9216, true), Buffer.alloc(1), T0 + 500);
  assert.deepEqual(pdt, [T0, T0]);
});

test('the preload hint rule: video names the next segment once within half a part of the target; audio by the grid', () => {
  const v = new Segmenter({ segmentTargetMs: 1000, maxTimestampGapMs: 1000 });
  v.onInit(VIDEO, Buffer.from('v'));
  const answers: boolean[] = [];
  for (let i = 0; i < 5; i++) {
    v.onFragment(frag(i * 18_000, 18_000, i === 0), Buffer.alloc(1), T0);
    answers.push(v.nextPartStartsSegment());
  }
  assert.deepEqual(answers, [false, false, false, false, true]);
  const a = new Segmenter({ segmentTargetMs: 1000, maxTimestampGapMs: 1000 });
  a.onInit(AUDIO, Buffer.from('a'));
  const audio: boolean[] = [];
  for (let i = 0; i < 6; i++) {
    a.onFragment(frag(i * 9216, 9216, true), Buffer.alloc(1), T0);
    audio.push(a.nextPartStartsSegment());
  }
  // After 5 parts (0.96 s) the next part (0.96–1.152 s, middle 1.056 s) crosses the 1 s grid line.
  assert.deepEqual(audio, [false, false, false, false, true, false]);
});
