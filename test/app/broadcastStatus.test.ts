import { test } from 'node:test';
import assert from 'node:assert/strict';
import { broadcastStatus, type BroadcastView, type ProgramView, type SwitchView, type TranscoderView } from '../../app/broadcastStatus.ts';
import { composeProgram } from '../../app/composition.ts';

const T0 = Date.parse('2026-12-06T18:00:00.000Z');

const starting: BroadcastView = {
  id: 'main-20261206T180000Z',
  stageId: 'main',
  state: 'starting',
  error: undefined,
  startedAt: undefined,
  endedAt: undefined,
  transcoder: undefined,
  restarts: 0,
  packaged: [],
  input: [],
  lastPartAt: undefined,
  program: undefined,
  now: T0,
};

const transcoder = (over: Partial<TranscoderView> = {}): TranscoderView => ({
  state: 'running',
  run: 2,
  pid: 4242,
  copiesVideo: false,
  decodeStats: { decodeErrors: 3, keyframeRequests: 1 },
  lastProgress: undefined,
  tracks: [
    { trackId: 'v720', kind: 'video', height: 720, bitrateKbps: 2500 },
    { trackId: 'a', kind: 'audio' },
  ],
  ...over,
});

const spec = composeProgram({
  hosts: [
    { id: 'h1', video: { producerId: 'p1v', paused: false }, audio: { producerId: 'p1a', paused: false } },
    { id: 'h2', video: { producerId: 'p2v', paused: false }, audio: { producerId: 'p2a', paused: false } },
  ],
  mode: 'speaker',
  speaker: 'h2',
});

const program = (over: Partial<ProgramView> = {}): ProgramView => ({ mode: 'speaker', speaker: 'h2', spec, changes: 1, switched: undefined, graceEndsAt: undefined, ...over });

const lane = (active: string | undefined, switches: number, height?: number) => ({
  layer: height === undefined ? undefined : { height },
  rtpSwitch: { active, stats: { switches } },
});

test('a broadcast still starting reports its ids, state and empty renditions and inputs, nothing else', () => {
  assert.deepEqual(JSON.parse(JSON.stringify(broadcastStatus(starting))), { id: 'main-20261206T180000Z', stageId: 'main', state: 'starting', renditions: [], input: [] });
});

test('a live broadcast: fields in their order, optional ones only when known, the edge age from `now`', () => {
  const status = broadcastStatus({
    ...starting,
    state: 'live',
    startedAt: new Date(T0),
    transcoder: transcoder({ lastProgress: { speed: 1.01, fps: 30 } }),
    restarts: 1,
    packaged: [{ id: 'v720', bandwidth: 2_600_000 }, { id: 'a', bandwidth: 0 }],
    input: [{ producerId: 'p2v', kind: 'video', bitrate: 1_000_000 }],
    lastPartAt: T0 + 9_700,
    program: program(),
    now: T0 + 10_000,
  });
  // Compared as JSON text: the key order is part of what the API returns.
  assert.equal(
    JSON.stringify(status),
    JSON.stringify({
      id: 'main-20261206T180000Z',
      stageId: 'main',
      state: 'live',
      startedAt: '2026-12-06T18:00:00.000Z',
      renditions: [
        { trackId: 'v720', kind: 'video', height: 720, bitrateKbps: 2500, measuredBandwidth: 2_600_000 },
        { trackId: 'a', kind: 'audio' }, // a bandwidth of 0 is not measured yet
      ],
      input: [{ producerId: 'p2v', kind: 'video', bitrate: 1_000_000 }],
      transcoder: { state: 'running', run: 2, pid: 4242, restarts: 1, videoCopied: false, decodeErrors: 3, keyframeRequests: 1, speed: 1.01, fps: 30 },
      lastPartAgeMs: 300,
      program: { mode: 'speaker', speaker: 'h2', videos: [{ hostId: 'h2', cell: { x: 0, y: 0, width: 1, height: 1 } }], audios: ['h1', 'h2'], slate: false, changes: 1 },
    }),
  );
});

test('the edge age is reported only while live; an ended broadcast has its error and end time', () => {
  const ended = broadcastStatus({
    ...starting,
    state: 'failed',
    error: 'ffmpeg exited',
    startedAt: new Date(T0),
    endedAt: new Date(T0 + 60_000),
    transcoder: transcoder({ pid: undefined }),
    lastPartAt: T0 + 59_000,
    now: T0 + 61_000,
  });
  assert.equal(ended.error, 'ffmpeg exited');
  assert.equal(ended.endedAt, '2026-12-06T18:01:00.000Z');
  assert.equal(ended.lastPartAgeMs, undefined);
  assert.ok(ended.transcoder && !('pid' in ended.transcoder) && !('speed' in ended.transcoder));
});

test('the speaker switch: sources and the one on air as hosts; one lane has no layers, copied layers report each lane', () => {
  const sources = new Map([
    ['p1v', { hostId: 'h1' }],
    ['p2v', { hostId: 'h2' }],
  ]);
  const one: SwitchView = { sources, lanes: [lane('p2v', 4)] };
  assert.deepEqual(broadcastStatus({ ...starting, program: program({ switched: one }) }).program?.switch, { sources: ['h1', 'h2'], onAir: 'h2', switches: 4 });

  // A lane whose source is not (any more) a switch source shows the producer id; a lane with nothing on air has no onAir.
  const layered: SwitchView = { sources, lanes: [lane('p1v', 3, 720), lane('gone', 2, 360), lane(undefined, 0, 180)] };
  assert.equal(
    JSON.stringify(broadcastStatus({ ...starting, program: program({ switched: layered }) }).program?.switch),
    JSON.stringify({
      sources: ['h1', 'h2'],
      onAir: 'h1',
      switches: 3,
      layers: [
        { height: 720, onAir: 'h1', switches: 3 },
        { height: 360, onAir: 'gone', switches: 2 },
        { height: 180, switches: 0 },
      ],
    }),
  );
});

test('the program: no speaker yet, the slate, and the grace end while no host publishes', () => {
  const slate = composeProgram({ hosts: [], mode: 'grid' });
  const p = broadcastStatus({ ...starting, state: 'live', program: program({ mode: 'grid', speaker: undefined, spec: slate, changes: 3, graceEndsAt: T0 + 30_000 }) }).program;
  assert.deepEqual(p, { mode: 'grid', videos: [], audios: [], slate: true, changes: 3, hostGraceEndsAt: '2026-12-06T18:00:30.000Z' });
});
