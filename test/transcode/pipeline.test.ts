import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UdpPortPool, isUdpPortBound, silentLogger, type PortPair } from '../../common/index.ts';
import { createTranscoder, httpCmafSink, parseTranscodeConfig, type Transcoder } from '../../transcode/index.ts';
import { CmafReceiver, type Session } from './cmafReceiver.ts';
import { isAlive, makeRtpSession, programOf, startRtpSource, type RtpSource, type VideoCodec } from './rtpSource.ts';
import { rtpPortsOr } from '../helpers/rtpPorts.ts';

const pool = new UdpPortPool({ host: '127.0.0.1', ...rtpPortsOr(42000, 42999) });

/** A ladder light enough for a 2-core test machine that also runs the source encoder. */
const testConfig = (mode: 'ladder' | 'passthrough') =>
  parseTranscodeConfig({
    mode,
    x264Preset: 'ultrafast',
    ladder: [
      { name: '360p', height: 360, bitrateKbps: 600 },
      { name: '180p', height: 180, bitrateKbps: 200 },
    ],
  });

interface Ctx {
  receiver: CmafReceiver;
  ports: PortPair[];
  source?: RtpSource;
  transcoder?: Transcoder;
  keyframeRequests: number;
  pids: number[];
}

async function setup(codec: VideoCodec, mode: 'ladder' | 'passthrough'): Promise<Ctx> {
  const receiver = new CmafReceiver();
  await receiver.listen();
  const ports = [await pool.allocate(), await pool.allocate()];
  const [v, a] = ports as [PortPair, PortPair];
  const ctx: Ctx = { receiver, ports, keyframeRequests: 0, pids: [] };
  const rtp = makeRtpSession({ codec, videoPort: v.rtp, audioPort: a.rtp });
  ctx.transcoder = createTranscoder({
    config: testConfig(mode),
    program: programOf(rtp, { width: 640, height: 360 }),
    sink: httpCmafSink(receiver.baseUrl()),
    logger: silentLogger(),
    keyframes: { requestKeyFrame: () => void ctx.keyframeRequests++ },
  });
  ctx.transcoder.on('spawn', ({ pid }) => ctx.pids.push(pid));
  const started = ctx.transcoder.start();
  ctx.source = startRtpSource({ codec, videoPort: v.rtp, audioPort: a.rtp });
  await started;
  return ctx;
}

async function teardown(ctx: Ctx | undefined): Promise<void> {
  if (!ctx) return;
  await ctx.transcoder?.close();
  await ctx.source?.close();
  await ctx.receiver.close();
  assert.ok(ctx.pids.length >= 1);
  for (const pid of ctx.pids) assert.equal(isAlive(pid), false, `FFmpeg ${pid} still running after close()`);
  for (const p of ctx.ports) {
    assert.equal(await isUdpPortBound('127.0.0.1', p.rtp), false, `port ${p.rtp} still bound`);
    pool.release(p);
  }
}

const ms = (s: Session, t: number) => (t * 1000) / s.timescale;

/** Checks fragments of one session: init first, part-sized fragments, keyframes at segment starts. */
function checkVideo(s: Session, partMs: number, segMs: number): number[] {
  assert.ok(s.init, `${s.trackId}: init segment first`);
  assert.deepEqual(s.errors, []);
  assert.equal(s.handler, 'vide');
  const frags = s.fragments.slice(0, -1); // the last may be cut short by close
  assert.ok(frags.length >= 10, `${s.trackId}: ${frags.length} fragments`);
  const keyTimes: number[] = [];
  for (const f of frags) {
    const d = ms(s, f.duration);
    assert.ok(d <= partMs + 1, `${s.trackId}: fragment of ${d} ms > part ${partMs} ms`);
    if (f.keyframe) keyTimes.push(Math.round(ms(s, f.decodeTime)));
  }
  // Every segment boundary starts a fragment with a keyframe, and keyframes fall only there.
  const first = keyTimes[0] ?? 0;
  for (const t of keyTimes) assert.equal((t - first) % segMs, 0, `${s.trackId}: keyframe at ${t} ms off the ${segMs} ms grid`);
  const nonKeyLong = frags.filter((f) => !f.keyframe).every((f) => Math.abs(ms(s, f.duration) - partMs) < 1);
  assert.ok(nonKeyLong, `${s.trackId}: parts between keyframes are ${partMs} ms`);
  return keyTimes;
}

function checkAudio(s: Session, partMs: number): void {
  assert.ok(s.init, 'audio init segment first');
  assert.equal(s.handler, 'soun');
  assert.equal(s.timescale, 48000);
  const frags = s.fragments.slice(1, -1);
  assert.ok(frags.length >= 5);
  for (const f of frags) {
    const d = ms(s, f.duration);
    assert.ok(d <= partMs && d >= 0.85 * partMs, `audio fragment ${d} ms outside [85 %, 100 %] of ${partMs} ms`);
  }
}

describe('transcode: VP8 + Opus RTP → CMAF ladder over HTTP', () => {
  let ctx: Ctx | undefined;
  before(async () => {
    ctx = await setup('VP8', 'ladder');
  });
  after(() => teardown(ctx));

  test('every rung and audio arrive as CMAF tracks with 200 ms fragments and keyframes on the same 1 s grid', async () => {
    const c = ctx!;
    const { receiver } = c;
    await receiver.until(() => ['video-360p', 'video-180p', 'audio'].every((t) => (receiver.session(t)?.fragments.length ?? 0) >= 20), 20_000, '20 fragments per track');
    assert.deepEqual(c.transcoder!.tracks.map((t) => t.trackId), ['video-360p', 'video-180p', 'audio']);
    const k360 = checkVideo(receiver.session('video-360p')!, 200, 1000);
    const k180 = checkVideo(receiver.session('video-180p')!, 200, 1000);
    const n = Math.min(k360.length, k180.length);
    assert.ok(n >= 3, 'at least 3 segments');
    assert.deepEqual(k360.slice(0, n), k180.slice(0, n), 'keyframes at the same times on every rung');
    checkAudio(receiver.session('audio')!, 200);
    assert.ok(c.keyframeRequests >= 1, 'keyframe requested on start');
    assert.equal(c.transcoder!.state, 'running');
  });
});

describe('transcode: H.264 + Opus RTP → passthrough', () => {
  let ctx: Ctx | undefined;
  before(async () => {
    ctx = await setup('H264', 'passthrough');
  });
  after(() => teardown(ctx));

  test('H.264 is copied into one CMAF track cut at the publisher keyframes; a keyframe is requested every segment', async () => {
    const c = ctx!;
    const { receiver } = c;
    await receiver.until(() => (receiver.session('video-source')?.fragments.length ?? 0) >= 15, 20_000, 'passthrough fragments');
    assert.deepEqual(c.transcoder!.tracks.map((t) => t.trackId), ['video-source', 'audio']);
    const s = receiver.session('video-source')!;
    assert.ok(s.init);
    assert.equal(s.handler, 'vide');
    assert.ok(s.fragments[0]?.keyframe, 'first fragment starts with a keyframe');
    assert.ok(s.fragments.filter((f) => f.keyframe).length >= 2, 'publisher keyframes start fragments');
    // Copied frames keep the publisher's timing: a part ends at the first frame ≥ 200 ms, so it may run over by a frame's jitter.
    for (const f of s.fragments.slice(0, -1)) assert.ok(ms(s, f.duration) <= 250, `fragment ${ms(s, f.duration)} ms`);
    checkAudio(receiver.session('audio')!, 200);
    const before = c.keyframeRequests;
    await receiver.until(() => c.keyframeRequests >= before + 2, 5000, 'periodic keyframe requests');
  });
});
