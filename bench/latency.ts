/**
 * npm run bench:latency [-- --seconds 60] [--only hls,hlsjs,dash,dashjs,whep,baseline,shaka-dash,shaka-hls,hls-resync]
 *   [--catchup 1.5] [--dash-delay 0.9] [--part-ms 200] [--max-delay-ms 50]
 *   [--preset veryfast] [--ladder 720p:2500,360p:700]
 *
 * Glass-to-glass latency of the whole broadcast in one process: the host page
 * publishes its clock (`?source=clock`: epoch ms as blocks on a canvas, plus the
 * fake microphone) through the SFU, our FFmpeg ladder and the packager; a viewer
 * page reads the clock back from every decoded frame (bench/lib/clockReader.ts)
 * and records now − painted. One broadcast, then for each mode in turn a fresh
 * viewer page for `--seconds`:
 *   hls       our viewer page (LL-HLS, hls.js lowLatencyMode, ?catchup=)
 *   hlsjs     plain hls.js with `{ lowLatencyMode: true }` only, on a page of
 *             another origin (test/helpers/plainPlayers.ts): what a site that
 *             embeds our stream in its own hls.js gets
 *   hls-resync  the same plus a seek to hls.js's live sync position when behind
 *             its target (an experiment for a viewer change; not by default)
 *   dash      our DASH page (dash.js low-latency, ?delay=)
 *   dashjs    plain dash.js with default settings (no updateSettings), same page server
 *   shaka-dash, shaka-hls  Shaka Player with its default configuration on the
 *             MPD / the multivariant playlist (not by default)
 *   whep      the WHEP watch page (/watch/whep.html, the front row) with a fresh
 *             viewer token from the control API: the program over WebRTC from
 *             the SFU (FFmpeg's RTP copy of it sent back in). Its <video> plays a
 *             MediaStream, which buffers nothing the page can see: buffered-ahead
 *             and edge are not reported for it. The app runs with WHEP on
 *             (`ingest.whep.enabled`) only when this mode is measured, since
 *             WHEP adds an x264 encode of the top rung to the broadcast's FFmpeg.
 *   baseline  FFmpeg's own `hls` muxer (2 s segments) from a second RTP output of
 *             the same stage, same encoder settings, static files, hls.js defaults
 * Prints p50 / p95 / max latency, stalls (`waiting` after playback started),
 * start-up (page navigation → first decoded clock frame) and saves JSON to
 * bench/results/. Host page, viewer and pipeline share this machine's cores.
 * Without --ladder/--preset/--part-ms/--max-delay-ms the app's own defaults
 * apply (ladder `hd`: 720p + 360p at veryfast), as `npm start` runs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import type { AppConfigInput } from '../app/config.ts';
import type { RunningApp } from '../app/server.ts';
import { parseTranscodeConfig, type TranscodeConfigInput } from '../transcode/index.ts';
import { api, startTestApp, waitForPlaylist } from '../test/helpers/app.ts';
import { launchChromium } from '../test/helpers/browser.ts';
import { parsePackagerConfig } from '../packager/config.ts';
import { startPlainPlayers, type PlainPlayerServer } from '../test/helpers/plainPlayers.ts';
import { startBaseline, type Baseline } from './lib/ffmpegHlsBaseline.ts';
import type { ClockRecord } from './lib/clockReader.ts';
import { arg, numArg } from './lib/args.ts';
import { browserBundle } from './lib/browserBundle.ts';

type Mode = 'hls' | 'hlsjs' | 'hls-resync' | 'dash' | 'dashjs' | 'shaka-dash' | 'shaka-hls' | 'whep' | 'baseline';
const MODES: Mode[] = ['hls', 'hlsjs', 'hls-resync', 'dash', 'dashjs', 'shaka-dash', 'shaka-hls', 'whep', 'baseline'];
const DEFAULT_MODES: Mode[] = ['hls', 'hlsjs', 'dash', 'dashjs', 'whep', 'baseline'];

/**
 * `hls-resync`: an experiment for a viewer change, not in player/: hls.js 1.7
 * only speeds up while more than 1 s is buffered ahead (latency-controller
 * `forwardBufferLength > 1`), so catch-up stalls at ~1 s ahead and never
 * reaches PART-HOLD-BACK. This seeks once a second to `hls.liveSyncPosition`
 * when the player is more than 0.25 s behind its target.
 */
const RESYNC = `window.setInterval(() => {
  const s = window.stagecast; const h = s && s.hls;
  if (!h || !h.media || h.media.paused || h.targetLatency == null || h.liveSyncPosition == null) return;
  if (h.latency > h.targetLatency + 0.25) { h.media.currentTime = h.liveSyncPosition; window.__resyncs = (window.__resyncs || 0) + 1; }
}, 1000);`;

const SECONDS = numArg('seconds', 60);
const ONLY = (arg('only')?.split(',') ?? DEFAULT_MODES) as Mode[];
const CATCHUP = numArg('catchup', 1.5);
const DASH_DELAY = numArg('dash-delay', 0.9);
const LADDER = arg('ladder')
  ?.split(',')
  .map((r) => {
    const [name, kbps] = r.split(':');
    return { name: name!, height: Number(name!.replace(/p$/, '')), bitrateKbps: Number(kbps) };
  });
for (const m of ONLY) if (!MODES.includes(m)) throw new TypeError(`--only takes ${MODES.join(',')}, not ${m}`);
/** WHEP on only when measured: it makes the broadcast's FFmpeg encode the program once more for the SFU. */
const WHEP = ONLY.includes('whep');

/** Only what the command line sets; the rest is the app's default configuration. */
const transcode: TranscodeConfigInput = {
  ...(LADDER ? { ladder: LADDER } : {}),
  ...(arg('preset') ? { x264Preset: arg('preset') as NonNullable<TranscodeConfigInput['x264Preset']> } : {}),
  ...(arg('part-ms') ? { partDurationMs: numArg('part-ms', 200) } : {}),
  ...(arg('max-delay-ms') ? { input: { maxDelayMs: numArg('max-delay-ms', 50) } } : {}),
};
const resolved = parseTranscodeConfig(transcode);
/** With --part-ms, PART-TARGET 10 % above it so audio and video parts fit (as the default 200/220). */
const packager: AppConfigInput['packager'] = arg('part-ms') ? { partTargetMs: Math.round(resolved.partDurationMs * 1.1) } : {};

interface ModeResult {
  mode: Mode;
  url: string;
  seconds: number;
  samples: number;
  rejected: number;
  p50Ms?: number;
  p95Ms?: number;
  maxMs?: number;
  /** p50 over the second half of the window: where catch-up has settled. */
  p50SecondHalfMs?: number;
  /** p50 of the media buffered ahead of the displayed frame: the player's own hold-back. */
  p50AheadMs?: number;
  /** p50 of latency − buffered ahead: age of the newest media the player holds (pipeline + fetch). */
  p50EdgeMs?: number;
  stalls: number;
  stallMs: number;
  /** Errors a plain player reported, fatal or not (first few kept in playerErrorDetails). */
  playerErrors?: number;
  playerErrorDetails?: string[];
  startupMs?: number;
  maxFrameGapMs: number;
  heights: Record<string, number>;
  /** Per second from the first frame: [s, median latency ms, median buffered ahead ms, playback rate, player latency s, player target s]. */
  series?: number[][];
  error?: string;
}

function quantile(sorted: number[], q: number): number | undefined {
  if (!sorted.length) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const readerScript = (): Promise<string> => browserBundle(new URL('./lib/clockReader.ts', import.meta.url));

async function measure(page: Page, mode: Mode, url: string, script: string): Promise<ModeResult> {
  await page.addInitScript({ content: script });
  if (mode === 'hls-resync') await page.addInitScript({ content: RESYNC });
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { __clock?: ClockRecord }).__clock?.firstFrameAt !== undefined, undefined, {
    timeout: 30_000,
    polling: 100,
  });
  await delay(SECONDS * 1000);
  const rec = await page.evaluate(() => (window as unknown as { __clock: ClockRecord }).__clock);
  // Errors the plain players reported (test/helpers/plainPlayers.ts); our pages show theirs in the page.
  const playerErrors = await page.evaluate(
    () => (window as unknown as { __player?: { errors: { fatal: boolean; detail: string }[] } }).__player?.errors ?? [],
  );
  const lat = rec.samples.map((s) => s[1]);
  const sorted = [...lat].sort((a, b) => a - b);
  const half = rec.samples[0]![0] + (SECONDS * 1000) / 2;
  const secondHalf = rec.samples.filter((s) => s[0] >= half).map((s) => s[1]).sort((a, b) => a - b);
  // A MediaStream (WHEP) has no buffered ranges: nothing held back that the page can see.
  const buffers = mode !== 'whep';
  const ahead = buffers ? rec.samples.map((x) => x[3]).sort((a, b) => a - b) : [];
  const edge = buffers ? rec.samples.map((x) => x[1] - x[3]).sort((a, b) => a - b) : [];
  const heights: Record<string, number> = {};
  for (const s of rec.samples) heights[`${s[2]}p`] = (heights[`${s[2]}p`] ?? 0) + 1;
  const series: number[][] = [];
  const t0 = rec.samples[0]![0];
  for (let sec = 0; ; sec++) {
    const inSec = rec.samples.filter((x) => x[0] >= t0 + sec * 1000 && x[0] < t0 + (sec + 1) * 1000);
    if (!inSec.length) break;
    const med = (k: number) => quantile(inSec.map((x) => x[k]!).sort((a, b) => a - b), 0.5)!;
    const p = rec.player.find((x) => x[0] >= t0 + sec * 1000);
    series.push([sec, med(1), buffers ? med(3) : 0, inSec.at(-1)![4], ...(p ? [Number(p[1].toFixed(3)), Number(p[2].toFixed(3))] : [])]);
  }
  const now = Date.now();
  return {
    series,
    mode,
    url,
    seconds: SECONDS,
    samples: lat.length,
    rejected: rec.rejected,
    p50Ms: quantile(sorted, 0.5),
    p95Ms: quantile(sorted, 0.95),
    maxMs: sorted.at(-1),
    p50SecondHalfMs: quantile(secondHalf, 0.5),
    p50AheadMs: quantile(ahead, 0.5),
    p50EdgeMs: quantile(edge, 0.5),
    playerErrors: playerErrors.length,
    playerErrorDetails: playerErrors.slice(0, 5).map((e) => `${e.fatal ? 'fatal ' : ''}${e.detail}`),
    stalls: rec.stalls.length,
    stallMs: rec.stalls.reduce((a, s) => a + (s.ms < 0 ? now - s.at : s.ms), 0),
    startupMs: rec.firstFrameAt !== undefined ? rec.firstFrameAt - rec.timeOrigin : undefined,
    maxFrameGapMs: rec.maxFrameGapMs,
    heights,
  };
}

const s = (ms: number | undefined) => (ms === undefined ? '–' : (ms / 1000).toFixed(2));

function table(results: ModeResult[]): string {
  const rows = [
    ['mode', 'p50 s', 'p95 s', 'max s', 'p50 2nd half', 'edge p50', 'ahead p50', 'stalls', 'stalled s', 'errors', 'startup s', 'frames', 'rejected', 'max gap s', 'renditions'],
    ...results.map((r) =>
      r.error
        ? [r.mode, `failed: ${r.error.slice(0, 120)}`]
        : [
            r.mode,
            s(r.p50Ms),
            s(r.p95Ms),
            s(r.maxMs),
            s(r.p50SecondHalfMs),
            s(r.p50EdgeMs),
            s(r.p50AheadMs),
            String(r.stalls),
            s(r.stallMs),
            String(r.playerErrors ?? 0),
            s(r.startupMs),
            String(r.samples),
            String(r.rejected),
            s(r.maxFrameGapMs),
            Object.entries(r.heights).map(([h, n]) => `${h}×${n}`).join(' '),
          ],
    ),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

async function main(): Promise<void> {
  const settings = {
    seconds: SECONDS,
    modes: ONLY,
    ladder: resolved.ladder,
    x264Preset: resolved.x264Preset,
    partDurationMs: resolved.partDurationMs,
    partTargetMs: parsePackagerConfig(packager).partTargetMs,
    inputMaxDelayMs: resolved.input.maxDelayMs,
    hlsCatchup: CATCHUP,
    dashLiveDelayS: DASH_DELAY,
    source: 'host page ?source=clock: 640×360 canvas at 30 fps (VP8 from Chromium) + fake microphone',
    whep: WHEP,
  };
  console.log(`bench:latency ${JSON.stringify(settings)}`);
  const script = await readerScript();
  const app: RunningApp = await startTestApp({ transcode, packager, ...(WHEP ? { ingest: { whep: { enabled: true } } } : {}) });
  const browser = await launchChromium();
  const plain: PlainPlayerServer = await startPlainPlayers();
  const results: ModeResult[] = [];
  let baseline: Baseline | undefined;
  let baselineArgv: readonly string[] | undefined;
  try {
    const created = await api<{ id: string; hostUrl: string }>(app, 'POST', '/stages', { id: 'latency' });
    if (created.status !== 201) throw new Error(`create stage: ${created.status} ${JSON.stringify(created.body)}`);
    const stage = app.sfu.getStage(created.body.id)!;
    const published = new Promise<void>((resolve) => {
      const check = () => {
        if (stage.producers.some((p) => p.kind === 'video') && stage.producers.some((p) => p.kind === 'audio')) resolve();
      };
      stage.on('producer', check);
      check();
    });
    const host = await browser.newPage();
    await host.goto(created.body.hostUrl.replace('/host/?', '/host/?autostart=1&source=clock&'));
    await Promise.race([published, delay(20_000).then(() => Promise.reject(new Error('the host page never published')))]);
    const live = await api<{ broadcast: { state: string } }>(app, 'POST', `/stages/${stage.id}/live`);
    if (live.status !== 201) throw new Error(`go live: ${live.status} ${JSON.stringify(live.body)}`);
    await waitForPlaylist(app, stage.id, 20_000);

    for (const mode of ONLY) {
      const page = await browser.newPage();
      let url = '';
      try {
        if (mode === 'hls' || mode === 'hls-resync') url = `${app.url}/watch/?broadcast=${stage.id}&catchup=${CATCHUP}`;
        else if (mode === 'dash') url = `${app.url}/watch/dash.html?broadcast=${stage.id}&delay=${DASH_DELAY}`;
        else if (mode === 'hlsjs') url = plain.pageUrl('hlsjs', `${app.url}/live/${stage.id}/master.m3u8`);
        else if (mode === 'dashjs') url = plain.pageUrl('dashjs', `${app.url}/live/${stage.id}/manifest.mpd`);
        else if (mode === 'shaka-dash') url = plain.pageUrl('shaka', `${app.url}/live/${stage.id}/manifest.mpd`);
        else if (mode === 'shaka-hls') url = plain.pageUrl('shaka', `${app.url}/live/${stage.id}/master.m3u8`);
        else if (mode === 'whep') {
          // A fresh viewer token per measurement, as a producer would hand one out.
          const tokens = await api<{ watchUrl: string }>(app, 'POST', `/stages/${stage.id}/whep-tokens`, { ttlSeconds: Math.ceil(SECONDS) + 600 });
          if (tokens.status !== 201) throw new Error(`WHEP token: ${tokens.status} ${JSON.stringify(tokens.body)}`);
          url = tokens.body.watchUrl;
        } else {
          baseline = await startBaseline({
            stage,
            config: parseTranscodeConfig(transcode),
            ffmpegPath: '/usr/bin/ffmpeg',
            ports: { min: 26000, max: 26999 },
          });
          baselineArgv = baseline.argv;
          url = baseline.pageUrl;
        }
        console.log(`measuring ${mode} for ${SECONDS} s: ${url}`);
        results.push(await measure(page, mode, url, script));
      } catch (err) {
        results.push({ mode, url, seconds: SECONDS, samples: 0, rejected: 0, stalls: 0, stallMs: 0, maxFrameGapMs: 0, heights: {}, error: (err as Error).message });
      } finally {
        await page.close();
        await baseline?.close();
        baseline = undefined;
      }
    }
    const status = await api<{ broadcast: unknown }>(app, 'GET', `/stages/${stage.id}`);
    await api(app, 'POST', `/stages/${stage.id}/stop`);
    await host.close();

    const out = table(results);
    console.log(`\n${out}\n`);
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const file = `${dir}latency-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), settings, baselineArgv, broadcastStatus: status.body, results, table: out }, null, 2)}\n`);
    console.log(`saved ${file}`);
  } finally {
    await baseline?.close();
    await browser.close();
    await plain.close();
    await app.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
