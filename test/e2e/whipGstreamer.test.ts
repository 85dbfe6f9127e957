// WHIP from a non-browser WebRTC stack: a client built on GStreamer's
// webrtcbin (test/e2e/whip/gstWhipClient.py) with bundle-policy=max-bundle,
// which offers the video m-line in RFC 8843 bundle-only form (port 0,
// a=bundle-only). libnice leaves loopback out of its candidates, so the client
// runs in a network namespace of this test's own, reaching the app over a veth
// pair: the app's HTTP server and mediasoup listen on the host-side address.
// For VP8 and for H.264, each with Opus: both tracks become producers on the
// stage, FFmpeg decodes both from the SFU's plain RTP, the stage goes live and
// hls.js plays the broadcast; the client's DELETE (on SIGTERM) ends the
// session, and with it the broadcast.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { RunningApp } from '../../app/server.ts';
import { UdpPortPool } from '../../common/index.ts';
import type { WhipSession } from '../../ingest/index.ts';
import { ffmpegSdp } from '../../transcode/index.ts';
import { api } from '../helpers/app.ts';
import { startE2e, type E2e } from '../helpers/e2e/harness.ts';
import { ONE_RUNG } from '../helpers/e2e/ladders.ts';
import { decodeFromSdp, waitForBound } from '../helpers/ffmpegDecode.ts';
import { NetnsUnavailableError, createVethNamespace, deleteAllNamespaces, liveNamespaces, type VethNamespace } from '../helpers/netns.ts';
import { GstWhipClient, gstreamerUnavailable } from './whip/gstClient.ts';

// Where no namespace can be made (no CAP_NET_ADMIN) or GStreamer's elements are missing, the tests say so and skip.
let skipReason: string | undefined;
let ns: VethNamespace | undefined;
let h: E2e | undefined;
let app: RunningApp | undefined;
let logDir: string | undefined;
/** Our own decode of the SFU's RTP, beside the broadcast's FFmpeg; a range of its own. */
const portPool = new UdpPortPool({ host: '127.0.0.1', min: 27300, max: 27399 });

before(async () => {
  h = await startE2e({ app: false });
  // After the app (which listens on their veth), before the log directory.
  h.defer('backend', 'the network namespaces', async () => {
    await deleteAllNamespaces();
    assert.deepEqual(liveNamespaces(), [], 'every namespace the test made is gone');
  });
  skipReason = await gstreamerUnavailable();
  if (skipReason) return;
  try {
    ns = await createVethNamespace();
  } catch (err) {
    if (!(err instanceof NetnsUnavailableError)) throw err;
    skipReason = err.message;
    return;
  }
  logDir = h.tempDir('stagecast-whip-gst-');
  app = await h.startApp({
    // Reachable from the namespace: the HTTP server (WHIP, pages, API) and the WebRTC transports on the host-side veth address.
    http: { host: ns.hostIp, port: 0 },
    ingest: { listenIp: ns.hostIp, hostTokenSecret: 'test-host-token-secret-0123456789' },
    transcode: ONE_RUNG,
    // Once the publisher leaves, the broadcast ends soon (the slate would otherwise run 30 s).
    compose: { hostGraceMs: 2000 },
    endedGraceMs: 2000,
  });
});
after(() => h?.close());

type Sample = { currentTime: number; frames: number; height: number; audioBytes: number; state: string };
const sample = (page: Page): Promise<Sample> =>
  page.evaluate(() => {
    const v = document.getElementById('video') as HTMLVideoElement & { webkitAudioDecodedByteCount?: number };
    return {
      currentTime: v.currentTime,
      frames: v.getVideoPlaybackQuality().totalVideoFrames,
      height: v.videoHeight,
      audioBytes: v.webkitAudioDecodedByteCount ?? 0,
      state: document.getElementById('state')!.dataset.state ?? '',
    };
  });

for (const [video, mimeType] of [
  ['vp8', 'video/VP8'],
  ['h264', 'video/H264'],
] as const) {
  test(`a GStreamer webrtcbin client (max-bundle, bundle-only video) publishes ${mimeType} + Opus over WHIP; FFmpeg decodes both, hls.js plays, DELETE ends it`, async (t) => {
    if (skipReason) {
      t.skip(skipReason);
      return;
    }
    assert.ok(h && app && ns && logDir);
    const id = `whip-gst-${video}`;
    const created = await h.createStage(id, { hostName: 'GStreamer' });
    const stage = app.sfu.getStage(id)!;
    const sessionCreated = new Promise<WhipSession>((resolve) => app!.whip.once('sessioncreate', resolve));
    const client = new GstWhipClient({ ns, url: `${app.url}/whip/${id}`, token: created.hostToken, video, logFile: path.join(logDir, `${video}.log`) });
    const viewer = await h.newPage();
    try {
      // The offer is webrtcbin's max-bundle form; the answer takes both sections into the BUNDLE group.
      const answer = await client.waitFor((e) => e.event === 'answer' || e.event === 'refused', 'an answer', 60_000);
      assert.equal(answer.event, 'answer', client.describe());
      assert.equal(answer.status, 201);
      const offer = String(client.events.find((e) => e.event === 'offer')?.sdp);
      assert.match(offer, /\r\na=group:BUNDLE audio0 video1\r\n/);
      assert.match(offer, /\r\nm=video 0 UDP\/TLS\/RTP\/SAVPF \d+\r\n(?:(?!m=)[^\n]*\n)*a=bundle-only\r\n/, 'the video m-line was offered bundle-only');
      const answerSdp = String(answer.sdp);
      assert.match(answerSdp, /\r\na=group:BUNDLE audio0 video1\r\n/);
      assert.match(answerSdp, /\r\nm=video 9 UDP\/TLS\/RTP\/SAVPF \d+\r\n/);
      assert.doesNotMatch(answerSdp, /bundle-only/);
      assert.ok(answerSdp.includes(` ${ns.hostIp} `), 'the answer gives the SFU on the veth address as candidate');

      const session = await sessionCreated;
      assert.equal(answer.location, `${app.url}/whip/${id}/${session.id}`, 'the client resolved our Location');
      assert.deepEqual(session.producers.map((p) => p.mimeType).sort(), ['audio/opus', mimeType]);
      assert.deepEqual(stage.producers.map((p) => p.kind).sort(), ['audio', 'video'], 'both tracks are producers on the stage');
      assert.equal(stage.hostCount, 1, 'the WHIP session is a host on the stage');
      await client.waitFor((e) => e.event === 'connection-state' && e.state === 'connected', 'a connected state', 30_000);

      // FFmpeg decodes both tracks from the SFU's plain RTP.
      const audio = stage.producers.find((p) => p.kind === 'audio')!;
      const vid = stage.producers.find((p) => p.kind === 'video')!;
      const output = await stage.createRtpOutput({ producerIds: [vid.id, audio.id], remoteIp: '127.0.0.1', portPool });
      try {
        const span = await decodeFromSdp(ffmpegSdp(output.descriptor), {
          seconds: 2,
          streams: 2,
          timeoutMs: 30_000,
          onSpawn: () => {
            waitForBound(output.tracks.flatMap((tr) => [tr.ports.rtp, tr.ports.rtcp]), 10_000).then(
              () => output.resume(),
              () => {}, // the decode times out with FFmpeg's own error text
            );
          },
        });
        assert.deepEqual(span.mediaTypes, ['video', 'audio']);
        assert.ok(span.seconds[0]! >= 2 && span.frames[0]! >= 20, `video decoded: ${JSON.stringify(span)}`);
        assert.equal(span.dimensions[0], '640x360', `video size: ${JSON.stringify(span)}`);
        assert.ok(span.seconds[1]! >= 2 && span.frames[1]! >= 50, `audio decoded: ${JSON.stringify(span)}`);
      } finally {
        output.close();
      }
      assert.equal(portPool.inUse, 0);
      assert.ok(session.connected, 'the session is connected (DTLS up)');

      // The stage goes live and a viewer plays it.
      const live = await h.goLive(id);
      assert.equal(live.broadcast.state, 'live');
      await viewer.goto(`${app.url}/watch/?broadcast=${id}`);
      await viewer.waitForFunction(() => document.getElementById('state')?.dataset.state === 'playing', undefined, { timeout: 30_000, polling: 200 }).catch(async (err: Error) => {
        throw new Error(`${err.message}; the viewer shows ${JSON.stringify(await sample(viewer))}`);
      });
      const first = await sample(viewer);
      // Both, as the viewer's catch-up may seek ahead once (currentTime then runs ahead of the frames decoded).
      await viewer
        .waitForFunction(
          ({ t0, f0 }) => {
            const v = document.getElementById('video') as HTMLVideoElement;
            return v.currentTime >= t0 + 6 && v.getVideoPlaybackQuality().totalVideoFrames >= f0 + 90;
          },
          { t0: first.currentTime, f0: first.frames },
          { timeout: 30_000, polling: 200 },
        )
        .catch(async (err: Error) => {
          throw new Error(`${err.message}; from ${JSON.stringify(first)} the viewer came to ${JSON.stringify(await sample(viewer))}`);
        });
      const last = await sample(viewer);
      assert.ok(last.currentTime >= first.currentTime + 6, `playback advanced ${first.currentTime} → ${last.currentTime}`);
      assert.ok(last.frames >= first.frames + 90, `video frames decoded: ${first.frames} → ${last.frames}`);
      assert.equal(last.height, 360);
      assert.ok(last.audioBytes > 0, 'the viewer decoded audio');
      const status = await api<{ broadcast: { state: string; input: { kind: string; bitrate: number }[] } }>(app, 'GET', `/stages/${id}`);
      assert.equal(status.body.broadcast.state, 'live');
      assert.deepEqual(status.body.broadcast.input.map((i) => i.kind).sort(), ['audio', 'video']);
      assert.ok(status.body.broadcast.input.every((i) => i.bitrate > 0), `both tracks arrive: ${JSON.stringify(status.body.broadcast.input)}`);

      // SIGTERM: the client DELETEs its session and exits; the host leaves, and its broadcast ends (ENDLIST).
      const broadcast = app.broadcasts.get(id)!;
      const broadcastEnded = new Promise<void>((resolve) => broadcast.on('state', (s) => s === 'ended' && resolve()));
      const closed = new Promise<string>((resolve) => app!.whip.once('sessionclose', (_s, reason) => resolve(reason)));
      const exit = await client.stop();
      assert.deepEqual({ code: exit.code, killed: exit.killed }, { code: 0, killed: false }, client.describe());
      assert.equal(client.events.find((e) => e.event === 'deleted')?.status, 200, client.describe());
      assert.equal(await closed, 'deleted');
      assert.equal(session.ended, 'deleted');
      assert.equal(stage.hostCount, 0);
      assert.equal(stage.producers.length, 0);
      assert.equal(app.whip.sessions.length, 0);
      await broadcastEnded;
      const playlist = await (await fetch(`${app.url}/live/${broadcast.id}/video-360p/index.m3u8`)).text();
      assert.match(playlist, /#EXT-X-ENDLIST\s*$/);
      assert.deepEqual(
        client.events.filter((e) => e.event === 'error'),
        [],
        'the GStreamer client reported no error',
      );
    } finally {
      await client.stop();
      await viewer.close();
    }
  });
}
