import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UdpPortPool, silentLogger, type PortPair } from '../../common/index.ts';
import { createTranscoder, httpCmafSink, parseTranscodeConfig, type Transcoder, type TranscoderState, type TranscodeProgress } from '../../transcode/index.ts';
import { CmafReceiver } from './cmafReceiver.ts';
import { isAlive, makeRtpSession, programOf, startRtpSource, type RtpSource } from './rtpSource.ts';
import { rtpPortsOr } from '../helpers/rtpPorts.ts';

const pool = new UdpPortPool({ host: '127.0.0.1', ...rtpPortsOr(47100, 47999) });

/** Resolves when the transcoder enters `state`. */
function reach(t: Transcoder, state: TranscoderState, timeoutMs: number): Promise<void> {
  if (t.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      t.off('state', on);
      reject(new Error(`state ${state} not reached within ${timeoutMs} ms (now ${t.state})`));
    }, timeoutMs);
    const on = (s: TranscoderState) => {
      if (s !== state) return;
      clearTimeout(timer);
      t.off('state', on);
      resolve();
    };
    t.on('state', on);
  });
}

describe('transcode supervision: stalls', () => {
  let receiver: CmafReceiver;
  let ports: PortPair[];
  let source: RtpSource;
  let transcoder: Transcoder;
  const states: TranscoderState[] = [];
  const progress: TranscodeProgress[] = [];
  const pids: number[] = [];
  let keyframeRequests = 0;

  before(async () => {
    receiver = new CmafReceiver();
    await receiver.listen();
    ports = [await pool.allocate(), await pool.allocate()];
    const [v, a] = ports as [PortPair, PortPair];
    transcoder = createTranscoder({
      config: parseTranscodeConfig({
        x264Preset: 'ultrafast',
        ladder: [{ name: '180p', height: 180, bitrateKbps: 200 }],
        supervision: { stallTimeoutMs: 1000 },
      }),
      program: programOf(makeRtpSession({ codec: 'VP8', videoPort: v.rtp, audioPort: a.rtp })),
      sink: httpCmafSink(receiver.baseUrl()),
      logger: silentLogger(),
      keyframes: { requestKeyFrame: () => void keyframeRequests++ },
    });
    transcoder.on('state', (s) => states.push(s));
    transcoder.on('progress', (p) => progress.push(p));
    transcoder.on('spawn', ({ pid }) => pids.push(pid));
    const started = transcoder.start();
    source = startRtpSource({ codec: 'VP8', videoPort: v.rtp, audioPort: a.rtp, gopFrames: 15 });
    await started;
  });

  after(async () => {
    source.process.kill('SIGCONT');
    await transcoder.close();
    await source.close();
    await receiver.close();
    for (const pid of pids) assert.equal(isAlive(pid), false);
    for (const p of ports) pool.release(p);
  });

  test('progress events carry fps, out time, bitrate and speed', async () => {
    await receiver.until(() => (receiver.session('video-180p')?.fragments.length ?? 0) >= 10, 10_000, 'output');
    const last = progress.at(-1);
    assert.ok(last && last.outTimeMs! > 0 && last.speed! > 0 && last.bitrateKbps! > 0 && last.fps !== undefined, JSON.stringify(last));
  });

  test('when the input pauses, the transcoder goes stalled and asks for a keyframe; when it resumes, running again in the same session', async () => {
    const before = keyframeRequests;
    source.process.kill('SIGSTOP'); // the publisher stops sending
    await reach(transcoder, 'stalled', 3000);
    assert.ok(keyframeRequests > before, 'keyframe requested on stall');
    source.process.kill('SIGCONT');
    await reach(transcoder, 'running', 3000);
    assert.equal(transcoder.run, 1);
  });

  test('an input silent for longer than twice the stall timeout restarts FFmpeg, which runs again once RTP returns', async () => {
    source.process.kill('SIGSTOP');
    await reach(transcoder, 'stalled', 3000);
    const [restart] = await transcoder.waitFor('restart');
    assert.match(restart.reason, /stalled/);
    source.process.kill('SIGCONT');
    await reach(transcoder, 'running', 10_000);
    assert.equal(transcoder.run, 2);
    await receiver.until(() => (receiver.session('video-180p')?.index ?? 0) === 1 && receiver.session('video-180p')!.fragments.length >= 2, 5000, 'second session');
    assert.ok(receiver.session('video-180p')!.init);
  });
});
