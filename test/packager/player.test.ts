import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { pushInProcess, startHarness, until, type FfmpegRun, type Harness } from './helpers.ts';

let h: Harness;
let run: FfmpegRun;
let browser: Browser;
const B = 'play1';

const PAGE = (script: string, setup: string) => `<!doctype html><html><body><video id="v" muted autoplay playsinline></video>
<script src="${script}"></script><script>
window.errors = []; window.video = document.getElementById('v');
${setup}
</script></body></html>`;

const HLS_SETUP = `const hls = new Hls({ lowLatencyMode: true });
hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.errors.push(d.type + ':' + d.details); });
hls.loadSource('/live/${B}/master.m3u8'); hls.attachMedia(video); video.play().catch(() => {});
window.latency = () => hls.latency;`;

const DASH_SETUP = `const p = dashjs.MediaPlayer().create();
p.updateSettings({ streaming: { delay: { liveDelay: 1.5 }, lowLatencyEnabled: true } });
p.on('error', (e) => window.errors.push(JSON.stringify(e.error ?? e)));
p.initialize(video, '/live/${B}/manifest.mpd', true);
window.latency = () => p.getCurrentLiveLatency();`;

before(async () => {
  const nm = path.resolve(import.meta.dirname, '../../node_modules');
  h = await startHarness({}, undefined, (app) => {
    app.get('/hls.js', (_q, r) => r.sendFile(path.join(nm, 'hls.js/dist/hls.min.js')));
    app.get('/dash.js', (_q, r) => r.sendFile(path.join(nm, 'dashjs/dist/modern/umd/dash.all.min.js')));
    app.get('/hls.html', (_q, r) => r.type('html').send(PAGE('/hls.js', HLS_SETUP)));
    app.get('/dash.html', (_q, r) => r.type('html').send(PAGE('/dash.js', DASH_SETUP)));
  });
  run = pushInProcess(h.packager, B, 45);
  await until(h.packager, B, () => (h.packager.getBroadcast(B)?.track('video-360p')?.current?.msn ?? 0) >= 3, 15_000, 'four segments');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
});

after(async () => {
  await browser?.close();
  await run?.stop();
  await h?.close();
});

async function playFor(pageName: string): Promise<{ advanced: number; errors: string[]; latency: number[] }> {
  const page = await browser.newPage();
  try {
    await page.goto(`${h.base}/${pageName}`);
    await page.waitForFunction(() => (window as unknown as { video: HTMLVideoElement }).video.currentTime > 0.5, undefined, { timeout: 15_000 });
    const t0 = await page.evaluate(() => (window as unknown as { video: HTMLVideoElement }).video.currentTime);
    await page.waitForFunction((t) => (window as unknown as { video: HTMLVideoElement }).video.currentTime > t + 2, t0, { timeout: 10_000 });
    const t1 = await page.evaluate(() => (window as unknown as { video: HTMLVideoElement }).video.currentTime);
    // Live latency as the player reports it, once a second for 4 s of playback.
    const latency: number[] = [];
    for (let i = 1; i <= 4; i++) {
      await page.waitForFunction((t) => (window as unknown as { video: HTMLVideoElement }).video.currentTime > t + 1, t1 + i - 1, { timeout: 5_000 });
      latency.push(await page.evaluate(() => (window as unknown as { latency: () => number }).latency()));
    }
    const errors = await page.evaluate(() => (window as unknown as { errors: string[] }).errors);
    return { advanced: t1 - t0, errors, latency };
  } finally {
    await page.close();
  }
}

test('headless Chromium plays the LL-HLS with hls.js (lowLatencyMode): currentTime advances, no fatal error', async (t) => {
  const r = await playFor('hls.html');
  t.diagnostic(`hls.js live latency ${r.latency.map((l) => l.toFixed(2)).join(' ')} s`);
  assert.ok(r.advanced > 2);
  assert.deepEqual(r.errors, []);
});

test('headless Chromium plays the MPD with dash.js: currentTime advances, no fatal error', async (t) => {
  const r = await playFor('dash.html');
  t.diagnostic(`dash.js live latency ${r.latency.map((l) => l.toFixed(2)).join(' ')} s`);
  assert.ok(r.advanced > 2);
  assert.deepEqual(r.errors, []);
});
