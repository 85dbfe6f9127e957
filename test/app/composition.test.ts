import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { composeProgram, gridCells, sameAudios, sameProgram, speakerSources, type CompositionHost } from '../../app/composition.ts';
import { SpeakerSelector, loudestOf } from '../../app/speaker.ts';
import type { RtpSessionDescriptor } from '../../common/index.ts';
import { canvasSize, cellPixels, ladderRungs, parseTranscodeConfig, planProgram } from '../../transcode/index.ts';

const host = (id: string, opts: { video?: boolean; audio?: boolean; videoPaused?: boolean; audioPaused?: boolean } = {}): CompositionHost => ({
  id,
  ...(opts.video !== false ? { video: { producerId: `${id}-v`, paused: opts.videoPaused ?? false } } : {}),
  ...(opts.audio !== false ? { audio: { producerId: `${id}-a`, paused: opts.audioPaused ?? false } } : {}),
});

test('grid cells: 1 fills the frame, 2 side by side, 3 and 4 in a 2×2, 5–9 in a 3×3', () => {
  assert.deepEqual(gridCells(1), [{ x: 0, y: 0, width: 1, height: 1 }]);
  assert.deepEqual(gridCells(2), [
    { x: 0, y: 0, width: 0.5, height: 1 },
    { x: 0.5, y: 0, width: 0.5, height: 1 },
  ]);
  assert.deepEqual(gridCells(3).map((c) => [c.x, c.y]), [[0, 0], [0.5, 0], [0, 0.5]]);
  assert.equal(gridCells(4).at(-1)!.x, 0.5);
  assert.deepEqual(gridCells(9).at(-1), { x: 2 / 3, y: 2 / 3, width: 1 / 3, height: 1 / 3 });
  assert.equal(gridCells(5).length, 5);
  assert.equal(gridCells(5)[0]!.width, 1 / 3);
  assert.throws(() => gridCells(-1), TypeError);
});

test('grid cells never overlap and stay inside the frame, in pixels too (1–9 hosts)', () => {
  const canvas = canvasSize(ladderRungs(parseTranscodeConfig({ ladder: 'hd' })));
  assert.deepEqual(canvas, { width: 1280, height: 720 });
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 9 }), (n) => {
      const px = gridCells(n).map((c) => cellPixels(c, canvas));
      for (const [i, a] of px.entries()) {
        assert.ok(a.x >= 0 && a.y >= 0 && a.x + a.w <= canvas.width && a.y + a.h <= canvas.height, JSON.stringify(a));
        assert.ok(a.w % 2 === 0 && a.h % 2 === 0 && a.x % 2 === 0 && a.y % 2 === 0);
        for (const b of px.slice(i + 1)) assert.ok(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y, `${JSON.stringify(a)} overlaps ${JSON.stringify(b)}`);
      }
    }),
  );
});

test('grid program: every unmuted video in join order, every unmuted audio mixed', () => {
  const p = composeProgram({ hosts: [host('a'), host('b', { videoPaused: true }), host('c', { audio: false }), host('d', { video: false })], mode: 'grid' });
  assert.deepEqual(p.videos.map((v) => v.producerId), ['a-v', 'c-v']);
  assert.deepEqual(p.audios.map((v) => v.producerId), ['a-a', 'b-a', 'd-a']);
  assert.equal(p.slate, false);
  assert.deepEqual(p.videos[1]!.cell, { x: 0.5, y: 0, width: 0.5, height: 1 });
});

test('no video at all (nobody, audio-only hosts, all muted): the slate', () => {
  assert.deepEqual(composeProgram({ hosts: [], mode: 'grid' }), { mode: 'grid', videos: [], audios: [], slate: true });
  const p = composeProgram({ hosts: [host('a', { video: false }), host('b', { videoPaused: true, audioPaused: true })], mode: 'speaker', speaker: 'b' });
  assert.equal(p.slate, true);
  assert.deepEqual(p.audios.map((a) => a.hostId), ['a']);
});

test('speaker program: the speaker full frame, else the first host with video; audio of everyone', () => {
  const hosts = [host('a'), host('b'), host('c', { video: false })];
  const p = composeProgram({ hosts, mode: 'speaker', speaker: 'b' });
  assert.deepEqual(p.videos, [{ hostId: 'b', producerId: 'b-v', cell: { x: 0, y: 0, width: 1, height: 1 } }]);
  assert.equal(p.audios.length, 3);
  assert.equal(composeProgram({ hosts, mode: 'speaker', speaker: 'c' }).videos[0]!.hostId, 'a');
  assert.equal(composeProgram({ hosts, mode: 'speaker' }).videos[0]!.hostId, 'a');
});

test('sameProgram: a restart only when inputs or cells change', () => {
  const hosts = [host('a'), host('b')];
  const grid = composeProgram({ hosts, mode: 'grid' });
  assert.ok(sameProgram(grid, composeProgram({ hosts, mode: 'grid', speaker: 'b' })));
  assert.ok(!sameProgram(grid, composeProgram({ hosts, mode: 'speaker', speaker: 'b' })));
  assert.ok(!sameProgram(grid, composeProgram({ hosts: [host('a'), host('b', { audioPaused: true })], mode: 'grid' })));
  // Speaker mode with one video host: same program as a one-host grid.
  assert.ok(sameProgram(composeProgram({ hosts: [host('a')], mode: 'speaker' }), composeProgram({ hosts: [host('a')], mode: 'grid' })));
});

test('the spec becomes FFmpeg inputs: stacked cells, amix without normalisation, slate and silence inputs', () => {
  const config = parseTranscodeConfig({ ladder: 'sd' });
  const targetFor = (t: string) => `http://127.0.0.1:1/${t}`;
  const spec = composeProgram({ hosts: [host('a'), host('b'), host('c')], mode: 'grid' });
  const layout = { kind: 'ladder', rungs: ladderRungs(config) } as const;
  const rtp: RtpSessionDescriptor = {
    address: '127.0.0.1',
    sessionName: 'test',
    tracks: [
      ...[5000, 5002, 5004].map((port) => ({ kind: 'video' as const, port, payloadType: 96, mimeType: 'video/VP8', clockRate: 90000 })),
      ...[5006, 5008, 5010].map((port) => ({ kind: 'audio' as const, port, payloadType: 111, mimeType: 'audio/opus', clockRate: 48000, channels: 2 })),
    ],
  };
  const plan = planProgram(config, layout, { rtp, compose: { videos: spec.videos, audios: spec.audios.length, slateImage: '/slate.png' } }, { targetFor }, ['-f', 'sdp']);
  assert.match(plan.complexFilter!, /xstack=inputs=3:layout=0_0\|320_0\|0_180:fill=black,pad=640:360/);
  assert.match(plan.complexFilter!, /\[a0\]\[a1\]\[a2\]amix=inputs=3:normalize=0/);
  assert.deepEqual(plan.extraInputs, []);
  assert.deepEqual(plan.outputs.map((o) => o.track.trackId), ['video-360p', 'audio']);
  const slate = planProgram(config, layout, { compose: { videos: [], audios: 0, slateImage: '/slate.png' } }, { targetFor }, []);
  assert.equal(slate.sdpOnStdin, false);
  assert.deepEqual(slate.extraInputs!.map((i) => i.source), ['/slate.png', 'anullsrc=r=48000:cl=stereo']);
  assert.ok(slate.extraInputs!.every((i) => i.options.includes('-re')), 'generated inputs are paced in real time');
  assert.deepEqual(slate.outputs.map((o) => o.track.trackId), plan.outputs.map((o) => o.track.trackId), 'the same tracks whatever the program');
  assert.throws(() => planProgram(config, layout, { compose: { videos: [], audios: 1, slateImage: '/s.png' } }, { targetFor }, []), /no RTP session/);
  assert.throws(() => planProgram(config, layout, { rtp, compose: { videos: [{ cell: { x: 0.8, y: 0, width: 0.5, height: 1 } }], audios: 0, slateImage: '' } }, { targetFor }, []), /out of the frame/);
});

test('speaker hysteresis: a challenger must dominate for minDominance, the speaker holds for minHold, silence changes nothing', () => {
  const s = new SpeakerSelector({ minDominanceMs: 1000, minHoldMs: 2500 });
  assert.equal(s.update(undefined, 0), undefined);
  assert.equal(s.update('a', 0), 'a', 'the first voice takes the program at once');
  assert.equal(s.update('b', 500), 'a');
  assert.equal(s.update('b', 1600), 'a', 'b dominated 1.1 s but a has held only 1.6 s');
  assert.equal(s.currentFrom, 0);
  assert.equal(s.update('b', 2500), 'b', 'both conditions met');
  assert.equal(s.currentFrom, 500, "b's turn began when it became the loudest, not when the hysteresis decided");
  assert.equal(s.update('a', 3000), 'b');
  assert.equal(s.update('b', 3200), 'b', 'interrupted: a must start dominating again');
  assert.equal(s.update('a', 3300), 'b');
  assert.equal(s.update('a', 4400), 'b', 'a dominated 1.1 s but b held 1.9 s');
  assert.equal(s.update('a', 5000), 'a');
  assert.equal(s.currentFrom, 3300);
  assert.equal(s.update(undefined, 9000), 'a');
  s.remove('a');
  assert.equal(s.current, undefined);
  assert.equal(s.update('c', 9100), 'c');
});

test('speaker selection never flaps faster than the hold time, whatever the reports (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ dt: fc.integer({ min: 1, max: 700 }), who: fc.constantFrom('a', 'b', 'c', undefined) }), { maxLength: 200 }), (reports) => {
      const s = new SpeakerSelector({ minDominanceMs: 1000, minHoldMs: 2500 });
      let now = 0;
      let last: string | undefined;
      let lastSwitch = -Infinity;
      for (const r of reports) {
        now += r.dt;
        const cur = s.update(r.who, now);
        if (cur !== last) {
          if (last !== undefined) assert.ok(now - lastSwitch >= 2500, `switched after ${now - lastSwitch} ms`);
          last = cur;
          lastSwitch = now;
        }
      }
    }),
  );
  assert.equal(loudestOf([{ hostId: 'a', volume: -40 }, { hostId: 'b', volume: -12 }]), 'b');
  assert.equal(loudestOf([]), undefined);
});

test('speaker sources: every unpaused host video in join order, whoever speaks; the audio mix compared apart', () => {
  const hosts: CompositionHost[] = [
    { id: 'a', video: { producerId: 'va', paused: false }, audio: { producerId: 'aa', paused: false } },
    { id: 'b', audio: { producerId: 'ab', paused: false } },
    { id: 'c', video: { producerId: 'vc', paused: true }, audio: { producerId: 'ac', paused: false } },
    { id: 'd', video: { producerId: 'vd', paused: false } },
  ];
  assert.deepEqual(speakerSources(hosts), [{ hostId: 'a', producerId: 'va' }, { hostId: 'd', producerId: 'vd' }]);
  const byA = composeProgram({ hosts, mode: 'speaker', speaker: 'a' });
  const byD = composeProgram({ hosts, mode: 'speaker', speaker: 'd' });
  // A speaker change is a different program (another video) with the same audio mix: the switch's case.
  assert.equal(sameProgram(byA, byD), false);
  assert.equal(sameAudios(byA, byD), true);
  // d leaving with its video only keeps the mix; a's audio muted changes it (an FFmpeg restart).
  assert.equal(sameAudios(byA, composeProgram({ hosts: hosts.slice(0, 3), mode: 'speaker', speaker: 'a' })), true);
  const aMuted = hosts.map((h) => (h.id === 'a' ? { ...h, audio: { producerId: 'aa', paused: true } } : h));
  assert.equal(sameAudios(byA, composeProgram({ hosts: aMuted, mode: 'speaker', speaker: 'a' })), false);
  assert.deepEqual(speakerSources([]), []);
});
