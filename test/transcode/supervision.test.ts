import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UdpPortPool, isUdpPortBound, silentLogger, type PortPair } from '../../common/index.ts';
import { createTranscoder, parseTranscodeConfig, streamCmafSink, type Transcoder, type TranscoderState } from '../../transcode/index.ts';
import { CmafReceiver } from './cmafReceiver.ts';
import { isAlive, makeRtpSession, programOf, startRtpSource, type RtpSource } from './rtpSource.ts';
import { rtpPortsOr } from '../helpers/rtpPorts.ts';

const pool = new UdpPortPool({ host: '127.0.0.1', ...rtpPortsOr(44000, 44999) });

describe('transcode supervision: FFmpeg killed mid-run (in-process sink)', () => {
  let receiver: CmafReceiver;
  let ports: PortPair[];
  let source: RtpSource;
  let transcoder: Transcoder;
  const states: TranscoderState[] = [];
  let keyframeRequests = 0;
  const keyframeTimes: number[] = [];
  const pids: number[] = [];

  before(async () => {
    receiver = new CmafReceiver();
    ports = [await pool.allocate(), await pool.allocate()];
    const [v, a] = ports as [PortPair, PortPair];
    transcoder = createTranscoder({
      config: parseTranscodeConfig({ x264Preset: 'ultrafast', ladder: [{ name: '180p', height: 180, bitrateKbps: 200 }] }),
      program: programOf(makeRtpSession({ codec: 'VP8', videoPort: v.rtp, audioPort: a.rtp })),
      sink: streamCmafSink((trackId) => receiver.openTrack(trackId)),
      logger: silentLogger(),
      keyframes: {
        requestKeyFrame: () => {
          keyframeRequests++;
          keyframeTimes.push(Date.now());
        },
      },
    });
    transcoder.on('state', (s) => states.push(s));
    transcoder.on('spawn', ({ pid }) => pids.push(pid));
    const started = transcoder.start();
    // The test publisher cannot answer keyframe requests; a 0.5 s GOP stands in for the SFU's prompt keyframe.
    source = startRtpSource({ codec: 'VP8', videoPort: v.rtp, audioPort: a.rtp, gopFrames: 15 });
    await started;
  });

  after(async () => {
    await transcoder.close();
    await transcoder.close(); // safe twice
    await source.close();
    for (const pid of pids) assert.equal(isAlive(pid), false, `FFmpeg ${pid} (session or standby) still running`);
    for (const p of ports) {
      assert.equal(await isUdpPortBound('127.0.0.1', p.rtp), false);
      pool.release(p);
    }
  });

  test('a killed FFmpeg is back within 2 s (listening, keyframe requested), output resumes, and every track starts a new session with an init segment', async (t) => {
    // Mid-run: 2 s of media out (the warm standby for the next session has had time to load).
    await receiver.until(() => (receiver.session('video-180p')?.fragments.length ?? 0) >= 10, 15_000, 'first session output');
    const firstPid = transcoder.pid;
    assert.ok(firstPid !== undefined && isAlive(firstPid));
    const keyframesBefore = keyframeRequests;
    const killedAt = Date.now();
    process.kill(firstPid, 'SIGKILL');
    const [restart] = await transcoder.waitFor('restart');
    assert.equal(restart.attempt, 1);
    assert.match(restart.reason, /SIGKILL/);
    await transcoder.waitFor('state').then(async function next([s]): Promise<void> {
      if (s !== 'running') return next(await transcoder.waitFor('state'));
    });
    const outputAfter = Date.now() - killedAt;
    // Back = the new FFmpeg listens on the RTP ports and has asked the SFU for a keyframe.
    const backAfter = (keyframeTimes.find((t) => t > killedAt) ?? Infinity) - killedAt;
    assert.ok(backAfter < 2000, `listening again after ${backAfter} ms`);
    // Output then waits for that keyframe (the test publisher ignores requests and sends one every
    // 0.5 s); the bound leaves room for a loaded 2-core machine.
    assert.ok(outputAfter < 4000, `output again after ${outputAfter} ms`);
    t.diagnostic(`back after ${backAfter} ms, output after ${outputAfter} ms`);
    assert.notEqual(transcoder.pid, firstPid);
    assert.equal(isAlive(firstPid), false);
    assert.equal(transcoder.run, 2);
    await receiver.until(
      () => ['video-180p', 'audio'].every((t) => receiver.session(t)?.index === 1 && (receiver.session(t)?.fragments.length ?? 0) >= 2),
      5000,
      'second session fragments',
    );
    for (const track of ['video-180p', 'audio']) {
      const sessions = receiver.sessions.filter((s) => s.trackId === track);
      assert.equal(sessions.length, 2, `${track}: two sessions`);
      assert.ok(sessions[0]?.ended, `${track}: first session ended`);
      assert.ok(sessions[1]?.init, `${track}: new init segment`);
      // The sink got the killed FFmpeg's bytes as they came and was told its stream was cut off,
      // not ended (a clean end inside a box would be bad input); the packager's reader then drops
      // the partial box (test/packager/sourceSwitch.test.ts, the cut-off rows).
      assert.notEqual(sessions[0]?.cutOffBytes, undefined, `${track}: the first session was cut off`);
      assert.deepEqual(sessions[0]?.errors, [], `${track}: no clean end inside a box`);
      t.diagnostic(`${track}: ${sessions[0]?.cutOffBytes} bytes of a partial box at the cut`);
    }
    assert.ok(receiver.session('video-180p')!.fragments[0]!.keyframe, 'new session starts with a keyframe');
    assert.ok(keyframeRequests > keyframesBefore, 'keyframe requested on restart');
    assert.deepEqual(states.slice(0, 2), ['starting', 'running']);
    assert.ok(states.includes('restarting'));
  });

  test('close() stops FFmpeg with SIGTERM (it flushes and exits) and ends in stopped', async () => {
    const pid = transcoder.pid;
    const exit = transcoder.waitFor('exit');
    await transcoder.close();
    for (const p of pids) assert.equal(isAlive(p), false, `FFmpeg ${p} (session or standby) still running`);
    const [info] = await exit;
    assert.equal(info.requested, true);
    assert.equal(info.signal, null, 'exited by itself after SIGTERM, not SIGKILL');
    assert.equal(transcoder.state, 'stopped');
    assert.equal(isAlive(pid), false);
    await assert.rejects(transcoder.start(), { name: 'InvalidStateError' });
  });
});
