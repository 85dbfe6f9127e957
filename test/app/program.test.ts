import { test, mock, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { UdpPortPool, createLogger } from '../../common/index.ts';
import type { ProducerInfo } from '../../ingest/index.ts';
import { composeConfigSchema } from '../../app/config.ts';
import { Program } from '../../app/program.ts';
import type { StageFeed, StageFeedHost, StageRtpOutput } from '../../app/stageFeed.ts';
import { ladderRungs, parseTranscodeConfig, type ProgramInput, type Transcoder } from '../../transcode/index.ts';

/**
 * The Program against an in-memory stage feed (no `rtpOutputCodec`: a remote
 * feed, so no RTP switch) and a transcoder that records its programs. Timers
 * are mocked: the debounce and the grace period are ticked, not waited for.
 */

interface FakeOutput extends StageRtpOutput {
  readonly producerIds: readonly unknown[];
}

function fakeStage(hostIds: string[]) {
  const hosts: StageFeedHost[] = hostIds.map((id) => ({
    id,
    producers: [
      { id: `${id}v`, kind: 'video', paused: false },
      { id: `${id}a`, kind: 'audio', paused: false },
    ],
  }));
  const outputs: FakeOutput[] = [];
  const stage = {
    id: 'main',
    hosts,
    get producers(): ProducerInfo[] {
      return hosts.flatMap((h) => h.producers.map((p) => ({ id: p.id, hostId: h.id, kind: p.kind, mimeType: p.kind === 'video' ? 'video/VP8' : 'audio/opus', paused: p.paused })));
    },
    createRtpOutput: async (opts: { producerIds: readonly unknown[] }) => {
      let closed = false;
      const output: FakeOutput = {
        producerIds: opts.producerIds,
        descriptor: { address: '127.0.0.1', sessionName: `output ${outputs.length}`, tracks: [] },
        tracks: [],
        get closed() {
          return closed;
        },
        resume: async () => {},
        requestKeyFrame: async () => {},
        stats: async () => [],
        close: () => {
          closed = true;
        },
      };
      outputs.push(output);
      return output;
    },
  } as unknown as StageFeed;
  return { stage, hosts, outputs };
}

function setup(t: TestContext, hostIds: string[], compose: Record<string, unknown> = {}) {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const { stage, hosts, outputs } = fakeStage(hostIds);
  const lines: { msg: string; [k: string]: unknown }[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  const state = { live: false };
  const programs: ProgramInput[] = [];
  const transcoder = {
    layout: { kind: 'ladder', rungs: ladderRungs(parseTranscodeConfig({})) },
    reconfigure: async (input: ProgramInput) => void programs.push(input),
  } as unknown as Transcoder;
  const program = new Program({
    stage,
    transcode: parseTranscodeConfig({}),
    compose: composeConfigSchema.parse({ changeDebounceMs: 400, hostGraceMs: 30_000, speaker: { minDominanceMs: 0, minHoldMs: 0 }, ...compose }),
    layout: 'grid',
    portPool: new UdpPortPool({ host: '127.0.0.1', min: 32000, max: 32009 }), // never used: no switch without rtpOutputCodec
    rtpAddress: '127.0.0.1',
    live: () => state.live,
    logger,
  });
  return { program, stage, hosts, outputs, lines, state, programs, transcoder };
}

/** Lets the serialized change (a promise chain) run to its end. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

test('the first program: every unpaused host in the grid, videos then audios on one RTP output', async (t) => {
  const { program, outputs } = setup(t, ['h1', 'h2']);
  assert.equal(program.view === undefined, true, 'no program before open()');
  await program.open();
  assert.deepEqual(outputs[0]!.producerIds, ['h1v', 'h2v', 'h1a', 'h2a']);
  const input = program.input();
  assert.equal(input.rtp, outputs[0]!.descriptor);
  assert.deepEqual(input.compose.videos.map((v) => v.cell.width), [0.5, 0.5]);
  assert.equal(input.compose.audios, 2);
  assert.deepEqual(program.view?.spec.videos.map((v) => v.hostId), ['h1', 'h2']);
  assert.equal(program.view?.changes, 0);
});

test('stage changes within the debounce make one program change; a change that leaves the program as it is restarts nothing', async (t) => {
  const { program, hosts, outputs, lines, state, programs, transcoder } = setup(t, ['h1', 'h2']);
  await program.open();
  program.run(transcoder);
  program.changed();
  mock.timers.tick(1000);
  await settle();
  assert.equal(programs.length, 0, 'not live: nothing is applied');

  state.live = true;
  (hosts[1]!.producers[0] as { paused: boolean }).paused = true; // h2 pauses its video
  program.changed();
  mock.timers.tick(200);
  program.changed();
  mock.timers.tick(399);
  await settle();
  assert.equal(programs.length, 0, 'still within the debounce');
  mock.timers.tick(1);
  await settle();
  assert.equal(programs.length, 1);
  assert.deepEqual(programs[0]!.compose.videos.map((v) => v.cell.width), [1]);
  assert.equal(programs[0]!.rtp, outputs[1]!.descriptor);
  assert.equal(outputs[0]!.closed, true, 'the previous output closes once FFmpeg runs the new program');
  assert.equal(program.view?.changes, 1);
  assert.deepEqual(
    lines.filter((l) => l.msg === 'program change').map(({ mode, videos, audios, slate }) => ({ mode, videos, audios, slate })),
    [{ mode: 'grid', videos: ['h1'], audios: ['h1', 'h2'], slate: false }],
  );

  program.changed();
  mock.timers.tick(400);
  await settle();
  assert.equal(programs.length, 1, 'the same program: no restart');
});

test('speaker: the loudest host becomes the speaker (an event with when its turn began); without the switch that is a program change', async (t) => {
  const { program, lines, state, programs, transcoder } = setup(t, ['h1', 'h2']);
  await program.open();
  program.run(transcoder);
  state.live = true;
  const speakers: [string, number][] = [];
  program.on('speaker', (hostId, from) => speakers.push([hostId, from]));

  program.setMode('speaker');
  mock.timers.tick(400);
  await settle();
  assert.equal(programs.length, 1);
  assert.equal(program.view?.spec.videos[0]!.hostId, 'h1', 'nobody has spoken: the first host with video');
  assert.ok(lines.some((l) => l.msg === 'speaker layout without the RTP switch: speaker changes restart FFmpeg' && l.reason === 'the stage feed is remote'));

  program.levels([
    { hostId: 'h1', producerId: 'h1a', volume: -60 },
    { hostId: 'h2', producerId: 'h2a', volume: -20 },
  ]);
  assert.deepEqual(speakers, [['h2', 1_000_400]]);
  assert.equal(program.speaker, 'h2');
  assert.ok(lines.some((l) => l.msg === 'active speaker' && l.speaker === 'h2'));
  mock.timers.tick(400);
  await settle();
  assert.equal(programs.length, 2);
  assert.equal(program.view?.spec.videos[0]!.hostId, 'h2');
  assert.equal(program.view?.speaker, 'h2');

  program.hostLeft('h2');
  assert.equal(program.speaker, undefined, 'a host that left is no longer the speaker');
});

test('with no host publishing the grace period runs, and ends in `graceexpired` unless a host comes back', async (t) => {
  const { program, hosts, state, transcoder } = setup(t, ['h1']);
  await program.open();
  program.run(transcoder);
  state.live = true;
  let expired = 0;
  program.on('graceexpired', () => expired++);
  const producers = hosts[0]!.producers as unknown[];
  const published = producers.splice(0); // h1 unpublishes everything

  program.changed();
  assert.equal(program.view?.graceEndsAt, 1_000_000 + 30_000);
  mock.timers.tick(29_000);
  producers.push(...published); // back in time
  program.changed();
  assert.equal(program.view?.graceEndsAt, undefined);
  mock.timers.tick(5_000);
  assert.equal(expired, 0);

  producers.splice(0);
  program.changed();
  mock.timers.tick(30_000);
  assert.equal(expired, 1);

  program.halt();
  assert.equal(program.view?.graceEndsAt, undefined, 'halted: no grace period any more');
  await program.close();
});
