// One FFmpeg process on its own (no Transcoder): a warm standby and a stop on a dead input.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UdpPortPool, isUdpPortBound, silentLogger, type PortPair, type RtpSessionDescriptor } from '../../common/index.ts';
import { chooseLayout, httpCmafSink, parseTranscodeConfig } from '../../transcode/index.ts';
import { FfmpegProcess } from '../../transcode/ffmpegProcess.ts';
import { waitUdpBound } from '../../transcode/preflight.ts';
import { runPlan } from '../../transcode/runPlan.ts';
import { isAlive, makeRtpSession, programOf } from './rtpSource.ts';

const range = /^(\d+)-(\d+)$/.exec(process.env.STAGECAST_TEST_RTP_PORTS ?? '') ?? [0, '26000', '26999'];
const pool = new UdpPortPool({ host: '127.0.0.1', min: Number(range[1]), max: Number(range[2]) });
const config = parseTranscodeConfig({ x264Preset: 'ultrafast', ladder: [{ name: '180p', height: 180, bitrateKbps: 200 }], supervision: { killGraceMs: 10_000 } });

describe('transcode FFmpeg process', () => {
  const ports: PortPair[] = [];
  const pids: number[] = [];

  /** A process for a VP8 + Opus program on fresh ports, pushing to a packager that is not there (nothing gets that far). */
  async function create(session: number): Promise<{ ffmpeg: FfmpegProcess; rtp: RtpSessionDescriptor; rtpPorts: number[] }> {
    const v = await pool.allocate();
    const a = await pool.allocate();
    ports.push(v, a);
    const rtp = makeRtpSession({ codec: 'VP8', videoPort: v.rtp, audioPort: a.rtp });
    const program = programOf(rtp);
    const plan = runPlan({ config, layout: chooseLayout(config, program), program, sink: httpCmafSink('http://127.0.0.1:1/ingest/b') }, session);
    const ffmpeg = new FfmpegProcess({ plan, ffmpegPath: config.ffmpegPath, run: session, killGraceMs: config.supervision.killGraceMs, logger: silentLogger() });
    ffmpeg.on('spawn', (pid) => pids.push(pid));
    return { ffmpeg, rtp, rtpPorts: [v.rtp, a.rtp] };
  }

  after(async () => {
    for (const pid of pids) assert.equal(isAlive(pid), false, `FFmpeg ${pid} still running`);
    for (const p of ports) {
      assert.equal(await isUdpPortBound('127.0.0.1', p.rtp), false);
      pool.release(p);
    }
  });

  test('a standby spawns with its argv and, stopped before its SDP, exits when its stdin closes: no signal, a requested exit', async () => {
    const { ffmpeg } = await create(2);
    const spawned = ffmpeg.waitFor('spawn');
    const exitEvent = ffmpeg.waitFor('exit');
    ffmpeg.spawn();
    const [pid, args] = await spawned;
    assert.equal(ffmpeg.pid, pid);
    assert.ok(isAlive(pid));
    assert.deepEqual(args.slice(args.indexOf('-i') - 2, args.indexOf('-i') + 2), ['-f', 'sdp', '-i', 'pipe:0'], 'the SDP comes on stdin');
    assert.equal(args.at(-1), 'http://127.0.0.1:1/ingest/b/audio');
    assert.equal(ffmpeg.activated, false);
    await ffmpeg.stop();
    const [info] = await exitEvent;
    assert.deepEqual([info.run, info.pid, info.signal, info.requested], [2, pid, null, true]);
    assert.equal(ffmpeg.exit, info);
    assert.equal(isAlive(pid), false);
    assert.equal(ffmpeg.running, false);
    await ffmpeg.stop(); // safe twice
  });

  test('activated on RTP that never comes: it binds the SDP ports, no output advances, and stop() ends it by SIGTERM (it exits by itself, no SIGKILL)', async () => {
    const { ffmpeg, rtp, rtpPorts } = await create(1);
    const spawned = ffmpeg.waitFor('spawn');
    ffmpeg.spawn();
    const [pid] = await spawned;
    ffmpeg.activate(rtp);
    assert.equal(ffmpeg.activated, true);
    await waitUdpBound(rtpPorts, AbortSignal.timeout(30_000));
    assert.equal(ffmpeg.running, false);
    const started = Date.now();
    await ffmpeg.stop();
    const info = await ffmpeg.exited;
    assert.equal(info.requested, true);
    assert.equal(info.signal, null, `exited by itself after SIGTERM (code ${info.code})`);
    assert.ok(Date.now() - started < config.supervision.killGraceMs, 'before the SIGKILL deadline');
    assert.equal(isAlive(pid), false);
  });
});
