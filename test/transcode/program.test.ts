// A composed program with the real FFmpeg: a slate-only start (no RTP at all), a
// reconfigure to an RTP host, and back to the slate; each program is a new
// session of the same tracks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { CmafReader } from '../../packager/cmaf.ts';
import { UdpPortPool, silentLogger } from '../../common/index.ts';
import { createTranscoder, parseTranscodeConfig, streamCmafSink, type ProgramInput } from '../../transcode/index.ts';
import { DEFAULT_SLATE_IMAGE } from '../../app/config.ts';
import { isAlive, makeRtpSession, programOf, startRtpSource } from './rtpSource.ts';
import { rtpPortsOr } from '../helpers/rtpPorts.ts';

const pool = new UdpPortPool({ host: '127.0.0.1', ...rtpPortsOr(26000, 26999) });
// Starts on a loaded shared machine may be slow: a generous start timeout (not what is tested).
const config = parseTranscodeConfig({ x264Preset: 'ultrafast', ladder: [{ name: '180p', height: 180, bitrateKbps: 200 }], fps: 15, supervision: { startTimeoutMs: 25_000 } });
const slate: ProgramInput = { compose: { videos: [], audios: 0, slateImage: DEFAULT_SLATE_IMAGE } };

test('a program transcoder starts on the slate alone, reconfigures to an RTP host and back: one new session of the same tracks each time', async () => {
  const opened: { trackId: string; seq: number }[] = [];
  let seq = 0;
  // The sink frames FFmpeg's bytes itself (as the packager does) and says when a fragment came.
  const fragments = new EventEmitter<{ fragment: [{ trackId: string; session: number }] }>();
  const t = createTranscoder({
    config,
    program: slate,
    sink: streamCmafSink((trackId, session) => {
      opened.push({ trackId, seq: seq++ });
      const reader = new CmafReader({ maxBoxBytes: 16 << 20 });
      return new Writable({
        write: (chunk: Buffer, _enc, cb) => {
          for (const ev of reader.push(chunk)) if (ev.type === 'fragment') fragments.emit('fragment', { trackId, session });
          cb();
        },
        destroy: (err, cb) => {
          reader.discardPartial();
          cb(err);
        },
      });
    }),
    logger: silentLogger(),
    id: 'program-test',
  });
  assert.deepEqual(t.tracks.map((x) => x.trackId), ['video-180p', 'audio']);
  // This test's sink stands in for the packager, the judge of make-before-break: it says
  // `sourceSwitched` once a run's first fragment came on every track.
  const fragmented = new Map<number, Set<string>>();
  fragments.on('fragment', (b) => {
    const tracks = fragmented.get(b.session) ?? new Set<string>();
    fragmented.set(b.session, tracks.add(b.trackId));
    if (tracks.size === t.tracks.length) t.sourceSwitched(b.session);
  });
  const v = await pool.allocate();
  const a = await pool.allocate();
  const source = startRtpSource({ codec: 'VP8', videoPort: v.rtp, audioPort: a.rtp, width: 320, height: 180, fps: 15 });
  const boxesOf = (session: number) => {
    const seen = new Set<string>();
    fragments.on('fragment', (b) => {
      if (b.session === session) seen.add(b.trackId);
    });
    return seen;
  };
  // Make before break: the FFmpeg before `session` exits, and its last fragment comes, only after the new
  // session's first fragment came on every track.
  const handover = (session: number) => {
    const firsts = new Set<string>();
    let flowedAt: number | undefined;
    let previousLastAt: number | undefined;
    let flowedBeforeExit: boolean | undefined;
    t.on('exit', (e) => {
      if (e.run < session) flowedBeforeExit = flowedAt !== undefined;
    });
    fragments.on('fragment', (b) => {
      if (b.session < session) previousLastAt = performance.now();
      if (b.session === session && !firsts.has(b.trackId)) {
        firsts.add(b.trackId);
        if (firsts.size === t.tracks.length) flowedAt = performance.now();
      }
    });
    return () => ({ flowedAt, previousLastAt, flowedBeforeExit, previousFedUntilFlow: flowedBeforeExit === true && previousLastAt !== undefined && previousLastAt >= flowedAt! });
  };
  try {
    await t.start();
    assert.equal(t.run, 1);
    const pid1 = t.pid!;
    const s2 = boxesOf(2);
    const handover2 = handover(2);
    const rtp: ProgramInput = { rtp: makeRtpSession({ codec: 'VP8', videoPort: v.rtp, audioPort: a.rtp }), compose: { videos: [{ cell: { x: 0, y: 0, width: 1, height: 1 } }], audios: 1, slateImage: DEFAULT_SLATE_IMAGE } };
    await t.reconfigure(rtp);
    assert.equal(t.run, 2);
    assert.equal(t.state, 'running');
    assert.notEqual(t.pid, pid1);
    assert.equal(isAlive(pid1), false, 'the previous FFmpeg is gone');
    // reconfigure() resolved once the new session's fragments flowed on every track, the previous FFmpeg still on air.
    assert.ok(['video-180p', 'audio'].every((k) => s2.has(k)), [...s2].join(' '));
    const h2 = handover2();
    assert.ok(h2.previousFedUntilFlow, `the previous session fed the tracks until the new one flowed on all: ${JSON.stringify(h2)}`);
    // Back to the slate: no RTP, so no warm standby to wait on stdin.
    const s3 = boxesOf(3);
    await t.reconfigure(slate);
    assert.equal(t.run, 3);
    await waitFor(() => ['video-180p', 'audio'].every((k) => s3.has(k)), 10_000, () => `fragments of video-180p and audio (seen: ${[...s3].join(', ')})`);
    // Every session opened each track anew (the packager's discontinuity).
    assert.deepEqual(opened.map((o) => o.trackId).sort(), ['audio', 'audio', 'audio', 'video-180p', 'video-180p', 'video-180p']);

    // A newer program while one is starting replaces it, and the one on air stays on until the newest flows.
    const pid3 = t.pid!;
    const handover5 = handover(5);
    const first = t.reconfigure(rtp);
    assert.equal(t.state, 'starting');
    await t.reconfigure(slate);
    await first;
    assert.equal(t.run, 5);
    const h5 = handover5();
    assert.ok(h5.previousFedUntilFlow, `session 3 fed the tracks until session 5 flowed: ${JSON.stringify(h5)}`);
    assert.equal(isAlive(pid3), false);
    // A program whose RTP session disagrees with its composition is refused, and the running session stays.
    await assert.rejects(t.reconfigure({ ...rtp, compose: { ...rtp.compose, audios: 0 } }), /bad-program|audio tracks/);
    assert.equal(t.run, 5);
  } finally {
    await t.close();
    await source.close();
    pool.release(v);
    pool.release(a);
  }
  assert.equal(t.pid, undefined);
});

test('reconfigure() needs a started transcoder, and a program needs consistent inputs', async () => {
  const sink = streamCmafSink(() => new PassThrough());
  const idle = createTranscoder({ config, program: programOf(makeRtpSession({ codec: 'VP8', videoPort: 5000, audioPort: 5002 })), sink, logger: silentLogger() });
  await assert.rejects(idle.reconfigure(slate), { name: 'InvalidStateError' });
  assert.throws(() => createTranscoder({ config, program: { compose: { videos: [], audios: 1, slateImage: DEFAULT_SLATE_IMAGE } }, sink, logger: silentLogger() }), { name: 'InputError' });
  const mismatch = { ...programOf(makeRtpSession({ codec: 'VP8', videoPort: 5000, audioPort: 5002 })), compose: { videos: [], audios: 2, slateImage: DEFAULT_SLATE_IMAGE } };
  assert.throws(() => createTranscoder({ config, program: mismatch, sink, logger: silentLogger() }), { name: 'InputError', code: 'bad-program' });
});

async function waitFor(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
