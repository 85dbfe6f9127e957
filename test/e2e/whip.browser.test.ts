// WHIP ingest as an encoder meets it: an independent published WHIP client
// (@eyevinn/whip-web-client) in Chromium, on another origin (so CORS is real),
// publishes the fake camera and microphone into a stage through /whip; the
// stage goes live through the control API; hls.js plays the broadcast; the
// client's DELETE ends the session, the host leaves and the broadcast ends.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { RunningApp } from '../../app/server.ts';
import { broadcastIdOf } from '../helpers/app.ts';
import { startE2e, type E2e } from '../helpers/e2e/harness.ts';
import { ONE_RUNG } from '../helpers/e2e/ladders.ts';

let h: E2e;
let app: RunningApp;

before(async () => {
  h = await startE2e({ app: { transcode: ONE_RUNG, endedGraceMs: 2000 } });
  app = h.app;
});
after(() => h?.close());

type Sample = { currentTime: number; frames: number; height: number; state: string };
const sample = (page: Page): Promise<Sample> =>
  page.evaluate(() => {
    const v = document.getElementById('video') as HTMLVideoElement;
    return { currentTime: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames, height: v.videoHeight, state: document.getElementById('state')!.dataset.state ?? '' };
  });

// VP8 is Chromium's first choice; H.264 is what OBS sends.
for (const video of ['video/VP8', 'video/H264'] as const) {
  test(`a published WHIP client publishes ${video} into a stage, the broadcast plays in hls.js, DELETE ends the session`, async () => {
    const id = `whip-e2e-${video.slice(6).toLowerCase()}`;
    const created = await h.createStage(id, { hostName: 'OBS-like' });
    const stage = app.sfu.getStage(id)!;
    const consoleErrors: string[] = [];
    const viewer = await h.newPage();
    let publisher: Page | undefined;
    try {
      // The publishing page lives on its own origin: the WHIP requests are cross-origin.
      const connected = new Promise<void>((resolve) => app.whip.once('sessioncreate', () => resolve()));
      const whip = await h.publishWhip({
        endpoint: `${app.url}/whip/${stage.id}`,
        token: created.hostToken,
        video,
        init: (page) =>
          page.on('console', (m) => {
            if (m.type() === 'error') consoleErrors.push(m.text());
          }),
      });
      publisher = whip.page;
      const resource = whip.resource;
      await connected;
      assert.match(resource, new RegExp(`^${app.url}/whip/${stage.id}/[0-9a-f-]{36}$`), 'the client resolved our Location');
      const [session] = app.whip.sessions;
      assert.ok(session);
      assert.deepEqual(session.producers.map((p) => p.mimeType).sort(), ['audio/opus', video]);
      assert.equal(stage.hostCount, 1, 'the WHIP session is a host on the stage');
      await whip.connected(20_000);

      const live = await h.goLive(stage.id);
      assert.equal(live.broadcast.state, 'live');

      await viewer.goto(`${app.url}/watch/?broadcast=${stage.id}`);
      await viewer.waitForFunction(() => document.getElementById('state')?.dataset.state === 'playing', undefined, { timeout: 30_000, polling: 200 }).catch(async (err: Error) => {
        throw new Error(`${err.message}; the viewer shows ${JSON.stringify(await sample(viewer))}`);
      });
      const first = await sample(viewer);
      await viewer.waitForFunction((t0) => (document.getElementById('video') as HTMLVideoElement).currentTime >= t0 + 6, first.currentTime, { timeout: 25_000, polling: 200 });
      const last = await sample(viewer);
      assert.ok(last.currentTime >= first.currentTime + 6, `playback advanced ${first.currentTime} → ${last.currentTime}`);
      assert.ok(last.frames > first.frames + 60, `video frames decoded: ${first.frames} → ${last.frames}`);
      assert.equal(last.height, 360);

      // The client ends the session with DELETE on the Location: the host leaves, its producers close.
      const broadcast = app.broadcasts.get(stage.id)!;
      const broadcastEnded = new Promise<void>((resolve) => broadcast.on('state', (s) => s === 'ended' && resolve()));
      const ended = new Promise<string>((resolve) => app.whip.once('sessionclose', (_s, reason) => resolve(reason)));
      await whip.stop();
      assert.equal(await ended, 'deleted');
      assert.equal(stage.hostCount, 0);
      assert.equal(stage.producers.length, 0);
      assert.equal(app.whip.sessions.length, 0);
      // Its publisher gone, the broadcast ends (ENDLIST), as with a browser host.
      await broadcastEnded;
      const playlist = await (await fetch(`${app.url}/live/${broadcastIdOf(app, stage.id)}/video-360p/index.m3u8`)).text();
      assert.match(playlist, /#EXT-X-ENDLIST\s*$/);
      assert.deepEqual(consoleErrors, [], 'the WHIP client reported no error');
    } finally {
      await publisher?.close();
      await viewer.close();
    }
  });
}
