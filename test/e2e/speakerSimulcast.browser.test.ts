// The speaker layout on copied simulcast layers (issue 15): two Chromium hosts
// publish three H.264 layers each, FFmpeg copies each layer into a rendition of
// its own, and a speaker change is one RTP switch per layer at the new speaker's
// keyframes: the same FFmpeg, no discontinuity, and hls.js shows the new speaker
// in every rendition.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { api } from '../helpers/app.ts';
import { CENTRE, app, hostIdOf, hostPages, join, keptPlaying, openViewer, playback, playlist, setMic, setupHosts, status, teardownHosts, until, waitLayout, STAGE } from '../helpers/hosts.ts';

const RENDITIONS = ['video-720p', 'video-360p', 'video-180p'];

type SwitchStatus = {
  transcoder?: { run: number; pid?: number; videoCopied: boolean };
  renditions: { trackId: string; height?: number }[];
  program?: {
    speaker?: string;
    changes: number;
    switch?: { sources: string[]; onAir?: string; switches: number; layers?: { height?: number; onAir?: string; switches: number }[] };
  };
};
const switchStatus = async (): Promise<SwitchStatus> => (await api<{ broadcast: SwitchStatus }>(app, 'GET', `/stages/${STAGE}`)).body.broadcast;

/** Discontinuities ever in each video rendition's playlist: the window's tags plus those that slid out. */
async function discontinuities(): Promise<number[]> {
  return Promise.all(
    RENDITIONS.map(async (r) => {
      const pl = await playlist(r);
      return Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(pl)?.[1] ?? 0) + (pl.match(/#EXT-X-DISCONTINUITY\n/g)?.length ?? 0);
    }),
  );
}

before(() =>
  setupHosts({
    transcode: { mode: 'simulcast', supervision: { startTimeoutMs: 25_000 } },
    // Chromium sends three layers from 960×540 up; 720p gives 720/360/180.
    cameraSize: '1280x720',
    hostQuery: 'codec=video/H264&simulcast=3',
    hosts: ['red', 'green'],
  }),
);
after(teardownHosts);

test('speaker layout on copied simulcast layers: a speaker change switches every layer at its keyframe, with the same FFmpeg, no discontinuity, and each rendition shows the new speaker', async (t) => {
  await join('red');
  await join('green');
  // Chromium adds its top layers as its bandwidth estimate ramps up: go live once both send all three.
  for (const name of ['red', 'green'] as const) {
    await hostPages.get(name)!.waitForFunction("document.getElementById('layers').dataset.heights === '720,360,180'", undefined, { timeout: 60_000 });
  }
  assert.equal((await api(app, 'PUT', `/stages/${STAGE}/layout`, { mode: 'speaker' })).status, 200);
  const live = await api<{ broadcast: unknown }>(app, 'POST', `/stages/${STAGE}/live`);
  assert.equal(live.status, 201, JSON.stringify(live.body));
  const viewerPage = await openViewer();
  await until(async () => (await status()).program?.speaker === hostIdOf('red'), 15_000, 'red as the active speaker');
  await until(async () => (await switchStatus()).program?.switch?.onAir === hostIdOf('red'), 15_000, 'red on air through the switches');
  await waitLayout([[CENTRE, 'red']]);

  // FFmpeg copies the three layers (no video encoder), each fed by its own switch.
  const before = await switchStatus();
  assert.equal(before.transcoder!.videoCopied, true);
  assert.deepEqual(before.renditions.filter((r) => r.trackId.startsWith('video')).map((r) => r.height), [720, 360, 180]);
  const pid = before.transcoder!.pid!;
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  assert.deepEqual(argv.flatMap((a, i) => (a.startsWith('-c:v') ? [argv[i + 1]] : [])), ['copy', 'copy', 'copy'], argv.join(' '));
  const sw = before.program!.switch!;
  assert.deepEqual([...sw.sources].sort(), [hostIdOf('red'), hostIdOf('green')].sort());
  assert.deepEqual(sw.layers?.map((l) => [l.height, l.onAir]), [[720, hostIdOf('red')], [360, hostIdOf('red')], [180, hostIdOf('red')]]);
  const run = before.transcoder!.run;
  const changes = before.program!.changes;
  const discontinuitiesBefore = await discontinuities();
  const t0 = (await playback()).currentTime;

  // Red's microphone goes silent: green, the only other host, becomes the speaker.
  const silencedAt = Date.now();
  await setMic('red', false);
  await until(async () => (await status()).program?.speaker === hostIdOf('green'), 20_000, 'green as the active speaker');
  await until(
    async () => (await switchStatus()).program?.switch?.layers?.every((l) => l.onAir === hostIdOf('green')) === true,
    15_000,
    'every layer switched to green',
  );
  await waitLayout([[CENTRE, 'green']]);
  t.diagnostic(`green on air in the viewer ${Date.now() - silencedAt} ms after red went silent (speaker hysteresis included)`);
  await keptPlaying(t0, 2);

  const after = await switchStatus();
  assert.ok(after.program!.switch!.layers!.every((l, i) => l.switches > sw.layers![i]!.switches), JSON.stringify(after.program!.switch));
  assert.deepEqual([after.transcoder!.run, after.transcoder!.pid, after.program!.changes], [run, pid, changes]);
  assert.deepEqual(await discontinuities(), discontinuitiesBefore);

  // Each rendition (hls.js pinned to it in our viewer page) shows green at its own size.
  for (const height of [180, 720, 360]) {
    await viewerPage.evaluate(`window.stagecast.hls.currentLevel = window.stagecast.hls.levels.findIndex((l) => l.height === ${height})`);
    await viewerPage.waitForFunction(`document.getElementById('video').videoHeight === ${height}`, undefined, { timeout: 30_000 });
    await waitLayout([[CENTRE, 'green']], 15_000);
  }
  const end = await playback();
  assert.equal(end.errors, 0);
  assert.equal(end.ended, false);
});
