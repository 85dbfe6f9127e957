import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { UdpPortPool, isUdpPortBound, silentLogger, type PortPair, type RtpSessionDescriptor, type RtpTrackDescription } from '../../common/index.ts';
import { createTranscoder, httpCmafSink, parseTranscodeConfig, type Transcoder, type TranscodeConfigInput } from '../../transcode/index.ts';
import { CmafReceiver } from './cmafReceiver.ts';
import { isAlive, makeRtpSession, programOf, startRtpSource } from './rtpSource.ts';
import { rtpPortsOr } from '../helpers/rtpPorts.ts';

const pool = new UdpPortPool({ host: '127.0.0.1', ...rtpPortsOr(26000, 26999) });
const light: TranscodeConfigInput = { x264Preset: 'ultrafast', ladder: [{ name: '180p', height: 180, bitrateKbps: 200 }] };

async function withPorts<T>(fn: (v: PortPair, a: PortPair) => Promise<T>): Promise<T> {
  const v = await pool.allocate();
  const a = await pool.allocate();
  try {
    return await fn(v, a);
  } finally {
    pool.release(v);
    pool.release(a);
  }
}

/** A TCP port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Records every FFmpeg PID a transcoder spawns. */
function trackPids(t: Transcoder): number[] {
  const pids: number[] = [];
  t.on('spawn', ({ pid }) => pids.push(pid));
  return pids;
}

describe('transcode errors: clear, typed, nothing left running', () => {
  test('a malformed or unsupported RTP session is rejected with InputError bad-sdp (or bad-program when it does not match the composition) before anything starts', () => {
    const base = { config: parseTranscodeConfig(light), sink: httpCmafSink('http://127.0.0.1:1/ingest/b'), logger: silentLogger() };
    const good = makeRtpSession({ codec: 'VP8', videoPort: 5000, audioPort: 5002 });
    const [video, audio] = good.tracks as [RtpTrackDescription, RtpTrackDescription];
    const cases: [unknown, RegExp][] = [
      [undefined, /the program has RTP inputs but no RTP session/],
      ['hello', /bad RTP session: .*expected object/],
      [{ ...good, tracks: [] }, /the RTP session has 0 video and 0 audio tracks, the composition 1 and 1/],
      [{ ...good, tracks: [{ ...video, payloadType: 200 }, audio] }, /tracks\.0\.payloadType/],
      [{ ...good, tracks: [{ ...video, mimeType: 'video/AV1' }, audio] }, /unsupported video codec AV1/],
      [{ ...good, address: '' }, /address: not an IP address/],
      [{ ...good, tracks: [{ ...video, port: 99999 }, audio] }, /tracks\.0\.port: invalid RTP port/],
      [{ ...good, tracks: [{ ...video, kind: 'audio' }, audio] }, /mimeType does not match kind/],
      [{ ...good, tracks: [audio, video] }, /video tracks must come before audio tracks/],
      [{ ...good, tracks: [video, { ...audio, port: 5001 }] }, /port 5001 overlaps another track's RTP\/RTCP pair/],
    ];
    for (const [rtp, message] of cases) {
      assert.throws(() => createTranscoder({ ...base, program: { ...programOf(good), rtp: rtp as RtpSessionDescriptor } }), (err: Error & { code?: string }) => {
        assert.equal(err.name, 'InputError');
        assert.equal(err.code, /composition|no RTP session/.test(message.source) ? 'bad-program' : 'bad-sdp');
        assert.match(err.message, message);
        return true;
      });
    }
  });

  test('passthrough with a VP8 host keeps its one video track and encodes it (a copy needs H.264), rather than refusing the broadcast', () => {
    const t = createTranscoder({
      config: parseTranscodeConfig({ mode: 'passthrough' }),
      program: programOf(makeRtpSession({ codec: 'VP8', videoPort: 5000, audioPort: 5002 })),
      sink: httpCmafSink('http://127.0.0.1:1/ingest/b'),
      logger: silentLogger(),
    });
    assert.deepEqual(t.tracks.map((x) => x.trackId), ['video-source', 'audio']);
    assert.equal(t.plan().mode, 'ladder');
    const argv = t.plan().outputs[0]!.options;
    assert.equal(argv[argv.indexOf('-c:v') + 1], 'libx264');
  });

  test('a missing FFmpeg binary fails start() with DependencyError ffmpeg-missing and spawns nothing', async () => {
    const receiver = new CmafReceiver();
    await receiver.listen();
    const t = createTranscoder({
      config: parseTranscodeConfig({ ...light, ffmpegPath: '/nonexistent/bin/ffmpeg' }),
      program: programOf(makeRtpSession({ codec: 'VP8', videoPort: 46900, audioPort: 46902 })),
      sink: httpCmafSink(receiver.baseUrl()),
      logger: silentLogger(),
    });
    const pids = trackPids(t);
    await assert.rejects(t.start(), (err: Error & { code?: string }) => {
      assert.equal(err.name, 'DependencyError');
      assert.equal(err.code, 'ffmpeg-missing');
      assert.match(err.message, /\/nonexistent\/bin\/ffmpeg.*transcode\.ffmpegPath/);
      return true;
    });
    assert.deepEqual(pids, []);
    assert.equal(t.state, 'stopped');
    assert.equal(receiver.sessions.length, 0);
    await receiver.close();
  });

  test('an unreachable packager fails start() with DependencyError packager-unreachable and spawns nothing', async () => {
    const port = await closedPort();
    const t = createTranscoder({
      config: parseTranscodeConfig(light),
      program: programOf(makeRtpSession({ codec: 'VP8', videoPort: 46904, audioPort: 46906 })),
      sink: httpCmafSink(`http://127.0.0.1:${port}/ingest/b1`),
      logger: silentLogger(),
    });
    const pids = trackPids(t);
    await assert.rejects(t.start(), { name: 'DependencyError', code: 'packager-unreachable', message: new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED`) });
    assert.deepEqual(pids, []);
    assert.equal(t.state, 'stopped');
  });

  test('a packager that drops the CMAF push fails start() with packager-unreachable, FFmpeg stderr attached, its PID gone', async () => {
    // FFmpeg reads no answer before its PUT ends, so a refusing packager is one that hangs up.
    const server = http.createServer((req) => req.socket.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      await withPorts(async (v, a) => {
        const t = createTranscoder({
          config: parseTranscodeConfig(light),
          program: programOf(makeRtpSession({ codec: 'VP8', videoPort: v.rtp, audioPort: a.rtp })),
          sink: httpCmafSink(`http://127.0.0.1:${port}/ingest/b1`),
          logger: silentLogger(),
        });
        const pids = trackPids(t);
        const started = t.start();
        const source = startRtpSource({ codec: 'VP8', videoPort: v.rtp, audioPort: a.rtp, gopFrames: 15 });
        try {
          await assert.rejects(started, (err: Error & { code?: string; stderr?: string[] }) => {
            assert.equal(err.name, 'DependencyError');
            assert.equal(err.code, 'packager-unreachable');
            assert.match(err.message, /Broken pipe|Connection reset|End of file|I\/O error/);
            assert.ok(err.stderr && err.stderr.length > 0, 'stderr tail attached');
            return true;
          });
        } finally {
          await source.close();
        }
        assert.equal(pids.length, 1);
        assert.equal(isAlive(pids[0]), false);
        assert.equal(await isUdpPortBound('127.0.0.1', v.rtp), false);
      });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('an RTP port held by another process fails start() with DependencyError rtp-port-in-use and leaves no FFmpeg', async () => {
    await withPorts(async (v, a) => {
      const squatter = dgram.createSocket('udp4');
      await new Promise<void>((r) => squatter.bind(v.rtp, '0.0.0.0', r));
      const receiver = new CmafReceiver();
      await receiver.listen();
      try {
        const t = createTranscoder({
          config: parseTranscodeConfig(light),
          program: programOf(makeRtpSession({ codec: 'VP8', videoPort: v.rtp, audioPort: a.rtp })),
          sink: httpCmafSink(receiver.baseUrl()),
          logger: silentLogger(),
        });
        const pids = trackPids(t);
        await assert.rejects(t.start(), { name: 'DependencyError', code: 'rtp-port-in-use', message: /Address already in use/ });
        assert.equal(pids.length, 1);
        assert.equal(isAlive(pids[0]), false);
      } finally {
        squatter.close();
        await receiver.close();
      }
    });
  });

  test('no RTP arriving fails start() with DependencyError start-timeout after startTimeoutMs, PID gone, ports released', async () => {
    await withPorts(async (v, a) => {
      const receiver = new CmafReceiver();
      await receiver.listen();
      const t = createTranscoder({
        config: parseTranscodeConfig({ ...light, supervision: { startTimeoutMs: 1500 } }),
        program: programOf(makeRtpSession({ codec: 'VP8', videoPort: v.rtp, audioPort: a.rtp })),
        sink: httpCmafSink(receiver.baseUrl()),
        logger: silentLogger(),
      });
      const pids = trackPids(t);
      await assert.rejects(t.start(), { name: 'DependencyError', code: 'start-timeout', message: new RegExp(`ports ${v.rtp}, ${a.rtp}`) });
      assert.equal(pids.length, 1);
      assert.equal(isAlive(pids[0]), false);
      assert.equal(await isUdpPortBound('127.0.0.1', v.rtp), false);
      assert.equal(await isUdpPortBound('127.0.0.1', a.rtp), false);
      await receiver.close();
    });
  });

  test('when the packager goes away for good, restarts back off and the transcoder dies with a typed error, nothing left running', async () => {
    await withPorts(async (v, a) => {
      const receiver = new CmafReceiver();
      await receiver.listen();
      const t = createTranscoder({
        config: parseTranscodeConfig({ ...light, supervision: { restart: { maxRetries: 2, delayMs: 50, backoff: 2 } } }),
        program: programOf(makeRtpSession({ codec: 'VP8', videoPort: v.rtp, audioPort: a.rtp })),
        sink: httpCmafSink(receiver.baseUrl()),
        logger: silentLogger(),
      });
      const pids = trackPids(t);
      const restarts: number[] = [];
      t.on('restart', (r) => restarts.push(r.delayMs));
      const started = t.start();
      const source = startRtpSource({ codec: 'VP8', videoPort: v.rtp, audioPort: a.rtp, gopFrames: 15 });
      try {
        await started;
        await receiver.until(() => (receiver.session('audio')?.fragments.length ?? 0) >= 2, 10_000, 'output');
        const died = t.waitFor('died');
        await receiver.close();
        const [err] = await died;
        assert.equal(err.name, 'DependencyError');
        assert.match(err.message, /gave up|giving up/);
        assert.deepEqual(restarts, [50, 100]);
        assert.equal(t.state, 'stopped');
        for (const pid of pids) assert.equal(isAlive(pid), false, `FFmpeg ${pid} still alive`);
      } finally {
        await t.close();
        await source.close();
      }
    });
  });
});
