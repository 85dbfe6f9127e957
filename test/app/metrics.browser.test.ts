// The SFU- and FFmpeg-fed metrics need a real broadcast: a host publishes from
// Chromium (fake camera and microphone), the stage goes live through the API,
// and /metrics then reports the host, its producers, RTP into FFmpeg, FFmpeg's
// speed and fps, and parts produced, all from the running pipeline.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import type { AppConfigInput } from '../../app/config.ts';
import type { RunningApp } from '../../app/server.ts';
import { api, startTestApp } from '../helpers/app.ts';
import { launchChromium } from '../helpers/browser.ts';
import { scrapeMetrics } from '../helpers/metrics.ts';

const transcode: AppConfigInput['transcode'] = {
  ladder: [{ name: '180p', height: 180, bitrateKbps: 250 }],
  x264Preset: 'ultrafast',
};

let app: RunningApp;
let browser: Browser;

before(async () => {
  app = await startTestApp({ transcode });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await app?.close();
});

async function metrics(): Promise<Map<string, number>> {
  return (await scrapeMetrics(`${app.url}/metrics`)).metrics;
}

test('a live broadcast shows its host, producers, RTP bitrate in, FFmpeg speed/fps and parts', async () => {
  const stageId = 'metricslive';
  const created = await api<{ hostUrl: string }>(app, 'POST', '/stages', { id: stageId });
  assert.equal(created.status, 201);
  const stage = app.sfu.getStage(stageId)!;
  const host = await browser.newPage();
  try {
    const published = new Promise<void>((resolve) => {
      const check = () => {
        if (stage.producers.some((p) => p.kind === 'video') && stage.producers.some((p) => p.kind === 'audio')) resolve();
      };
      stage.on('producer', check);
    });
    await host.goto(created.body.hostUrl.replace('/host/?', '/host/?autostart=1&'));
    await published;
    const live = await api<{ broadcast: { state: string } }>(app, 'POST', `/stages/${stageId}/live`);
    assert.equal(live.status, 201, JSON.stringify(live.body));

    // Wait (by parts produced, not by time) until FFmpeg has run for a few seconds of media.
    const broadcastId = app.broadcasts.get(stageId)!.id; // the media's name; the stage names the room
    const b = app.packager.getBroadcast(broadcastId)!;
    let parts = 0;
    await new Promise<void>((resolve) => {
      b.on('part', () => {
        if (++parts === 40) resolve();
      });
    });
    const m = await metrics();
    assert.equal(m.get(`stagecast_hosts{stage="${stageId}"}`), 1);
    assert.equal(m.get(`stagecast_producers{stage="${stageId}",kind="video"}`), 1);
    assert.equal(m.get(`stagecast_producers{stage="${stageId}",kind="audio"}`), 1);
    const videoIn = m.get(`stagecast_rtp_in_bitrate_bps{stage="${stageId}",kind="video"}`) ?? 0;
    const audioIn = m.get(`stagecast_rtp_in_bitrate_bps{stage="${stageId}",kind="audio"}`) ?? 0;
    assert.ok(videoIn > 10_000, `video RTP in: ${videoIn} bit/s`);
    assert.ok(audioIn > 1_000, `audio RTP in: ${audioIn} bit/s`);
    const speed = m.get(`stagecast_ffmpeg_speed{broadcast="${broadcastId}"}`) ?? 0;
    const fps = m.get(`stagecast_ffmpeg_fps{broadcast="${broadcastId}"}`) ?? 0;
    assert.ok(speed > 0.3, `FFmpeg speed ${speed}`);
    assert.ok(fps > 1, `FFmpeg fps ${fps}`);
    assert.equal(m.get(`stagecast_ffmpeg_restarts{broadcast="${broadcastId}"}`), 0);
    const partsTotal = [...m].filter(([k]) => k.startsWith(`stagecast_parts_total{broadcast="${broadcastId}"`)).reduce((n, [, v]) => n + v, 0);
    assert.ok(partsTotal >= 40, `parts counted: ${partsTotal}`);

    assert.equal((await api(app, 'POST', `/stages/${stageId}/stop`)).status, 200);
    const after = await metrics();
    assert.equal(after.get(`stagecast_ffmpeg_speed{broadcast="${broadcastId}"}`), undefined, 'an ended broadcast leaves the FFmpeg gauges');
  } finally {
    await host.close();
  }
});
