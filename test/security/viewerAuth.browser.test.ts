// A signed viewer URL plays in the viewer page (hls.js in Chromium) with every
// request going through the signed prefix; an expired one is refused and never plays.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import type { RunningApp } from '../../app/server.ts';
import { signViewerToken } from '../../packager/index.ts';
import { api, startTestApp } from '../helpers/app.ts';
import { launchChromium } from '../helpers/browser.ts';
import { pushInProcess, until, type FfmpegRun } from '../packager/helpers.ts';

const SECRET = 'viewer-secret-0123456789abcdef';
const B = 'signedplay';
let app: RunningApp;
let run: FfmpegRun;
let browser: Browser;

before(async () => {
  app = await startTestApp({ viewerAuth: { secret: SECRET, required: true } });
  assert.equal((await api(app, 'POST', '/stages', { id: B })).status, 201);
  run = pushInProcess(app.packager, B, 40);
  const b = app.packager.getBroadcast(B)!;
  await until(app.packager, B, () => b.tracks.length === 3 && b.tracks.every((t) => (t.current?.msn ?? 0) >= 3), 20_000, "three complete segments on every track (playlists are served from then on)");
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await run?.stop();
  await app?.close();
});

test('a signed viewer URL plays in hls.js; every media request carries the token and is answered', async () => {
  const issued = await api<{ token: string; viewerUrl: string }>(app, 'POST', `/stages/${B}/viewer-tokens`, { ttlSeconds: 600 });
  assert.equal(issued.status, 201);
  const page = await browser.newPage();
  try {
    const live: { status: number; path: string }[] = [];
    page.on('response', (r) => {
      const path = new URL(r.url()).pathname;
      if (path.startsWith('/live/')) live.push({ status: r.status(), path });
    });
    await page.goto(issued.body.viewerUrl);
    await page.waitForFunction(() => document.getElementById('state')?.dataset.state === 'playing', undefined, { timeout: 30_000, polling: 200 });
    const t0 = await page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).currentTime);
    await page.waitForFunction((t) => (document.getElementById('video') as HTMLVideoElement).currentTime >= t + 3, t0, { timeout: 20_000, polling: 200 });
    assert.ok(live.length >= 5, `the player fetched ${live.length} origin objects`);
    const prefix = `/live/t/${issued.body.token}/${B}/`;
    assert.deepEqual(live.filter((r) => !r.path.startsWith(prefix)), [], 'every origin request went through the signed prefix');
    assert.deepEqual(live.filter((r) => r.status >= 400), [], 'no origin request was refused');
    assert.ok(live.some((r) => r.path.endsWith('.m4s')), 'media parts or segments were fetched');
  } finally {
    await page.close();
  }
});

test('an expired signed URL is refused with 403 and the page never plays', async () => {
  const token = signViewerToken({ broadcastId: B, exp: Math.floor(Date.now() / 1000) - 1 }, SECRET);
  const src = `${app.url}/live/t/${token}/${B}/master.m3u8`;
  const page = await browser.newPage();
  try {
    const statuses: number[] = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname.startsWith('/live/')) statuses.push(r.status());
    });
    await page.goto(`${app.url}/watch/?src=${encodeURIComponent(src)}`);
    await page.waitForFunction(() => ['failed', 'reconnecting', 'not-live'].includes(document.getElementById('state')?.dataset.state ?? ''), undefined, { timeout: 20_000, polling: 200 });
    // Give hls.js time for its retries: none of them may get media.
    await page.waitForFunction((n) => performance.now() > n, (await page.evaluate(() => performance.now())) + 3000, { polling: 200 });
    const v = await page.evaluate(() => {
      const video = document.getElementById('video') as HTMLVideoElement;
      return { currentTime: video.currentTime, buffered: video.buffered.length, state: document.getElementById('state')!.dataset.state };
    });
    assert.ok(statuses.length >= 1, 'the player asked the origin');
    assert.ok(statuses.every((s) => s === 403), `every answer was 403: ${statuses.join(',')}`);
    assert.equal(v.currentTime, 0);
    assert.equal(v.buffered, 0);
    assert.notEqual(v.state, 'playing');
  } finally {
    await page.close();
  }
});
