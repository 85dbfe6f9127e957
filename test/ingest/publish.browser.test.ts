import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { UdpPortPool } from '../../common/index.ts';
import type { ProducerInfo, Stage } from '../../ingest/index.ts';
import type { RunningApp } from '../../app/server.ts';
import { ffmpegSdp } from '../../transcode/index.ts';
import { startTestApp } from '../helpers/app.ts';
import { launchChromium } from '../helpers/browser.ts';
import { decodeFromSdp, waitForBound } from '../helpers/ffmpegDecode.ts';

let app: RunningApp;
let browser: Browser;
const portPool = new UdpPortPool({ host: '127.0.0.1', min: 26000, max: 26099 });

before(async () => {
  app = await startTestApp();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await app?.close();
});

/** Resolves once the stage has an audio and a video producer. */
function bothProducers(stage: Stage): Promise<{ audio: ProducerInfo; video: ProducerInfo }> {
  return new Promise((resolve) => {
    const check = () => {
      const audio = stage.producers.find((p) => p.kind === 'audio');
      const video = stage.producers.find((p) => p.kind === 'video');
      if (audio && video) {
        stage.off('producer', check);
        resolve({ audio, video });
      }
    };
    stage.on('producer', check);
    check();
  });
}

for (const codec of ['video/VP8', 'video/H264'] as const) {
  test(`a host publishing ${codec} + Opus from Chromium reaches FFmpeg as plain RTP described by our SDP`, async () => {
    const stage = await app.sfu.createStage(`publish-${codec.split('/')[1]!.toLowerCase()}`);
    const token = app.sfu.issueHostToken(stage.id, { name: 'browser host' });
    const page = await browser.newPage();
    try {
      const producers = bothProducers(stage);
      await page.goto(`${app.url}/host/?stage=${stage.id}&codec=${codec}&autostart=1#token=${token}`);
      const { audio, video } = await producers;
      assert.equal(video.mimeType, codec);
      assert.equal(audio.mimeType, 'audio/opus');
      await page.waitForFunction(() => document.getElementById('state')?.dataset.state === 'live', undefined, { timeout: 15000 });

      const output = await stage.createRtpOutput({ producerIds: [video.id, audio.id], remoteIp: '127.0.0.1', portPool });
      try {
        // The output describes its RTP as data; transcode writes the SDP FFmpeg reads from it.
        assert.deepEqual(output.descriptor.tracks.map((t) => [t.kind, t.mimeType, t.port, t.clockRate]), [
          ['video', codec, output.tracks[0]!.ports.rtp, 90000],
          ['audio', 'audio/opus', output.tracks[1]!.ports.rtp, 48000],
        ]);
        if (codec === 'video/H264') assert.equal(output.descriptor.tracks[0]!.parameters?.['packetization-mode'], 1);
        const sdp = ffmpegSdp(output.descriptor);
        assert.match(sdp, new RegExp(`a=rtpmap:\\d+ ${codec.split('/')[1]}/90000`));
        if (codec === 'video/H264') assert.match(sdp, /packetization-mode=1/);
        const decoded = decodeFromSdp(sdp, {
          seconds: 2,
          streams: 2,
          timeoutMs: 30000,
          onSpawn: () => {
            waitForBound(output.tracks.flatMap((t) => [t.ports.rtp, t.ports.rtcp]), 10000).then(
              () => output.resume(),
              () => {}, // the decode times out with FFmpeg's own error text
            );
          },
        });
        const span = await decoded;
        assert.deepEqual(span.mediaTypes, ['video', 'audio']);
        assert.ok(span.seconds[0]! >= 2 && span.frames[0]! >= 20, `video decoded: ${JSON.stringify(span)}`);
        assert.ok(span.seconds[1]! >= 2, `audio decoded: ${JSON.stringify(span)}`);
        const sent = await output.stats();
        assert.ok(sent.every((s) => s.packetCount > 0), 'the SFU sent RTP on every track');
      } finally {
        output.close();
      }
      assert.equal(portPool.inUse, 0, 'closing the output released its ports');
      const bitrate = await page.locator('#bitrate').textContent();
      assert.match(bitrate ?? '', /kbit\/s/, 'the host page shows the outgoing bitrate');
    } finally {
      await page.close();
      stage.close();
    }
  });
}
