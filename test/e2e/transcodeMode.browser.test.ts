// The transcode mode and the no-upscale rule as `npm start` ships them: the
// real process (`node --import tsx main.ts`, configured through the documented
// STAGECAST_* variables), a Chromium host page publishing through the SFU, the
// control API's go-live, and the FFmpeg the broadcast runs, read from its own
// command line in /proc (what FFmpeg was really told, not what we planned).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { testRtpPorts } from '../helpers/app.ts';
import { startE2e, type E2e, type StagecastProcess } from '../helpers/e2e/harness.ts';
import { samplePlayback, type PlainPlayer } from '../helpers/plainPlayers.ts';
import { until as waitUntil } from '../helpers/wait.ts';

const RTP_MIN = testRtpPorts()?.min ?? 25000;

let h: E2e;

before(async () => {
  h = await startE2e({ app: false });
});
after(() => h?.close());

type BroadcastStatus = { id: string; state: string; transcoder?: { pid?: number; videoCopied: boolean; state: string } };

/** The product process (`npm start`'s entry) with this test's settings and `env` on top. */
function start(name: string, env: Record<string, string>): Promise<StagecastProcess> {
  return h.startProcess({
    name,
    env: {
      STAGECAST_HOST_TOKEN_SECRET: 'mode-host-secret-0123456789',
      STAGECAST_DATA_DIR: path.join(h.logDir(), name),
      STAGECAST_WORKERS: '1',
      STAGECAST_X264_PRESET: 'ultrafast',
      STAGECAST_RTP_MIN_PORT: String(RTP_MIN),
      STAGECAST_RTP_MAX_PORT: String(RTP_MIN + 99),
      ...env,
    },
    readyTimeoutMs: 90_000,
  });
}

/** Waits for `fn` to give a value; the failure shows the process's last output. */
function until<T>(what: string, fn: () => Promise<T | undefined>, s: StagecastProcess, timeoutMs = 60_000): Promise<T> {
  return waitUntil(what, fn, timeoutMs, { intervalMs: 250, describe: () => `\n${s.proc.tail()}` });
}

/** Publishes from the host page (`query` picks source and codec), goes live, and returns FFmpeg's argv and the multivariant playlist. */
async function goLive(s: StagecastProcess, stageId: string, query: string): Promise<{ argv: string[]; master: string; status: BroadcastStatus }> {
  const created = await h.createStage(stageId, {}, s);
  await h.publishHost({ stage: stageId, hostUrl: created.hostUrl, query, client: s });
  await h.goLive(stageId, s);
  const status = await until(
    'FFmpeg running',
    async () => {
      const b = (await s.api<{ broadcast?: BroadcastStatus }>('GET', `/stages/${stageId}`)).body.broadcast;
      return b?.transcoder?.pid !== undefined && b.transcoder.state === 'running' ? b : undefined;
    },
    s,
  );
  const argv = readFileSync(`/proc/${status.transcoder!.pid}/cmdline`, 'utf8').split('\0');
  const master = await until(
    'the multivariant playlist',
    async () => {
      const res = await fetch(`${s.url}/live/${stageId}/master.m3u8`);
      return res.status === 200 ? res.text() : undefined;
    },
    s,
  );
  return { argv, master, status };
}

const variants = (master: string) => [...master.matchAll(/^#EXT-X-STREAM-INF:.*\n(\S+)$/gm)].map((m) => m[1]);

test('STAGECAST_TRANSCODE_MODE=passthrough under npm start: FFmpeg copies the H.264 host video (no encoder), one video rendition', async () => {
  const s = await start('passthrough', { STAGECAST_TRANSCODE_MODE: 'passthrough' });
  const { argv, master, status } = await goLive(s, 'copy', 'codec=video/H264');
  const at = argv.indexOf('-c:v');
  assert.ok(at > 0, `no -c:v in ${argv.join(' ')}`);
  assert.equal(argv[at + 1], 'copy', argv.join(' '));
  assert.ok(!argv.includes('libx264'), `nothing is encoded: ${argv.join(' ')}`);
  assert.equal(status.transcoder!.videoCopied, true);
  assert.deepEqual(variants(master), ['video-source/index.m3u8'], master);
  // The copied track plays: its media playlist lists parts of the host's H.264.
  const media = await (await fetch(`${s.url}/live/${status.id}/video-source/index.m3u8`)).text();
  assert.match(media, /#EXT-X-PART:DURATION=/);
  assert.match(master, /CODECS="avc1\.42/, 'the host page sends constrained baseline H.264, copied as it is');
  // Other people's players on their defaults play the copied track: 5 s of decoded pictures each.
  for (const [player, manifest] of [['hlsjs', 'master.m3u8'], ['dashjs', 'manifest.mpd']] as [PlainPlayer, string][]) {
    const page = await h.newPage();
    try {
      await page.goto((await h.players()).pageUrl(player, `${s.url}/live/copy/${manifest}`));
      await page.waitForFunction('window.__player && window.__player.sample().currentTime > 0', undefined, { timeout: 30_000 });
      // Steady playback, after the players' own start-up (dash.js seeks to its live delay first).
      await new Promise((r) => setTimeout(r, 3000));
      const a = await samplePlayback(page);
      await new Promise((r) => setTimeout(r, 5000));
      const b = await samplePlayback(page);
      assert.ok(b.currentTime - a.currentTime > 3.5, `${player} played ${b.currentTime - a.currentTime} s in 5 s`);
      // Chromium sends 20–30 fps while its bandwidth estimate ramps up; a copy passes that on.
      assert.ok(b.frames - a.frames > 60, `${player} decoded ${b.frames - a.frames} frames in 5 s`);
      // The size Chromium sends (it scales its 720p down while its bandwidth estimate ramps up), copied as it is.
      assert.ok(b.height > 0 && b.height <= 720, `${player} shows ${b.width}×${b.height}`);
      assert.deepEqual(b.errors.filter((e) => e.fatal), [], `${player} fatal errors`);
    } finally {
      await page.close();
    }
  }
  await s.proc.stop();
});

test('STAGECAST_TRANSCODE_MODE=auto with a VP8 host of 640×360 and the default hd ladder: FFmpeg encodes, and no rung above the source (720p dropped)', async () => {
  const s = await start('auto', { STAGECAST_TRANSCODE_MODE: 'auto' });
  // ?source=clock paints a 640×360 canvas; the host page reports that size with its video.
  const { argv, master, status } = await goLive(s, 'vp8', 'source=clock');
  assert.ok(argv.includes('libx264'), argv.join(' '));
  assert.ok(!argv.includes('copy'), argv.join(' '));
  assert.equal(status.transcoder!.videoCopied, false);
  assert.deepEqual(variants(master), ['video-360p/index.m3u8'], master);
  assert.match(master, /RESOLUTION=640x360/);
  await s.proc.stop();
});

test('STAGECAST_TRANSCODE_MODE=simulcast: Chromium publishes 3 H.264 layers, FFmpeg copies each into its own rendition (only audio encoded), hls.js plays each and switches, dash.js plays', async () => {
  const s = await start('simulcast', { STAGECAST_TRANSCODE_MODE: 'simulcast' });
  const created = await h.createStage('layers', {}, s);
  const host = await h.publishHost({ stage: 'layers', hostUrl: created.hostUrl, query: 'codec=video/H264', client: s });
  // The SFU learns the layers from the host's encodings; the page reports which it sends.
  const producers = (await s.api<{ producers: { kind: string; layers?: { height?: number }[] }[] }>('GET', '/stages/layers')).body.producers;
  assert.deepEqual(producers.find((p) => p.kind === 'video')?.layers, [{ height: 180 }, { height: 360 }, { height: 720 }]);
  // Chromium adds its top layers as its bandwidth estimate ramps up; go live once all three are sent.
  await host.waitForFunction("document.getElementById('layers').dataset.heights === '720,360,180'", undefined, { timeout: 60_000 });
  // What the page reads from its sender and its outbound-rtp stats: heights sent, limitation, degradation preference.
  const hostLayers = () => host.evaluate("JSON.stringify(document.getElementById('layers').dataset)") as Promise<string>;
  // The layers keep their sizes when Chromium's CPU is short (FFmpeg starts on the same cores): it drops frames instead.
  assert.equal(JSON.parse(await hostLayers()).degradation, 'maintain-resolution', await hostLayers());
  await h.goLive('layers', s);
  const status = await until(
    'FFmpeg running',
    async () => {
      const b = (await s.api<{ broadcast?: BroadcastStatus }>('GET', '/stages/layers')).body.broadcast;
      return b?.transcoder?.pid !== undefined && b.transcoder.state === 'running' ? b : undefined;
    },
    s,
  );
  const argv = readFileSync(`/proc/${status.transcoder!.pid}/cmdline`, 'utf8').split('\0');
  const codecs = argv.flatMap((a, i) => (a.startsWith('-c:v') ? [argv[i + 1]] : []));
  assert.deepEqual(codecs, ['copy', 'copy', 'copy'], argv.join(' '));
  assert.ok(!argv.includes('libx264'), `no video encoder: ${argv.join(' ')}`);
  assert.equal(argv[argv.indexOf('-c:a') + 1], 'aac', `audio is encoded: ${argv.join(' ')}`);
  assert.equal(status.transcoder!.videoCopied, true);
  const master = await until(
    'the multivariant playlist with three renditions',
    async () => {
      const res = await fetch(`${s.url}/live/layers/master.m3u8`);
      const text = res.status === 200 ? await res.text() : '';
      return variants(text).length === 3 ? text : undefined;
    },
    s,
  );
  assert.deepEqual(variants(master), ['video-720p/index.m3u8', 'video-360p/index.m3u8', 'video-180p/index.m3u8'], master);
  const resolutions = [...master.matchAll(/RESOLUTION=(\d+x\d+)/g)].map((m) => m[1]);
  assert.deepEqual(resolutions, ['1280x720', '640x360', '320x180'], `${master}\nhost page: ${await hostLayers()}`);

  // hls.js on its defaults plays each rendition at its size, switching between them live.
  const page = await h.newPage();
  try {
    await page.goto((await h.players()).pageUrl('hlsjs', `${s.url}/live/layers/master.m3u8`));
    await page.waitForFunction('window.__player && window.__player.sample().currentTime > 0', undefined, { timeout: 30_000 });
    const levels = (await page.evaluate('window.stagecast.hls.levels.map((l) => l.height)')) as number[];
    assert.deepEqual(levels.slice().sort((a, b) => a - b), [180, 360, 720]);
    for (const height of [180, 720, 360]) {
      await page.evaluate(`window.stagecast.hls.currentLevel = window.stagecast.hls.levels.findIndex((l) => l.height === ${height})`);
      await page.waitForFunction(`window.__player.sample().height === ${height}`, undefined, { timeout: 30_000 });
      // A manual switch flushes the buffer (hls.js's immediate switch): measure once playback has resumed at the new size.
      const resumedFrom = (await samplePlayback(page)).currentTime;
      await page.waitForFunction(`window.__player.sample().currentTime > ${resumedFrom + 0.5}`, undefined, { timeout: 15_000 });
      const a = await samplePlayback(page);
      await new Promise((r) => setTimeout(r, 3000));
      const b = await samplePlayback(page);
      assert.equal(b.height, height);
      assert.ok(b.currentTime - a.currentTime > 2, `${height}p played ${b.currentTime - a.currentTime} s in 3 s`);
      assert.ok(b.frames - a.frames > 30, `${height}p decoded ${b.frames - a.frames} frames in 3 s`);
      assert.deepEqual(b.errors.filter((e) => e.fatal), [], `fatal errors at ${height}p`);
    }
  } finally {
    await page.close();
  }
  // dash.js on its README defaults plays the same renditions from the MPD.
  const dash = await h.newPage();
  try {
    await dash.goto((await h.players()).pageUrl('dashjs', `${s.url}/live/layers/manifest.mpd`));
    await dash.waitForFunction('window.__player && window.__player.sample().currentTime > 0', undefined, { timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 3000));
    const a = await samplePlayback(dash);
    await new Promise((r) => setTimeout(r, 5000));
    const b = await samplePlayback(dash);
    assert.ok(b.currentTime - a.currentTime > 3.5, `dash.js played ${b.currentTime - a.currentTime} s in 5 s`);
    assert.ok(b.frames - a.frames > 60, `dash.js decoded ${b.frames - a.frames} frames in 5 s`);
    assert.ok([180, 360, 720].includes(b.height), `dash.js shows ${b.width}×${b.height}`);
    assert.deepEqual(b.errors.filter((e) => e.fatal), [], 'dash.js fatal errors');
  } finally {
    await dash.close();
    await host.close();
  }
  await s.proc.stop();
});
