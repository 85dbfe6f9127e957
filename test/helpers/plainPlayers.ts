/**
 * Pages with players we did not write, on their default configuration, served
 * from an origin of their own (another port), the way a site embeds our
 * streams: hls.js with `lowLatencyMode: true` and nothing else, dash.js with
 * no settings at all, Shaka Player with its defaults (DASH or HLS).
 *
 * Each page takes `?src=<absolute manifest URL>`, plays it muted, and exposes
 * `window.__player = { name, errors, events }` for the test or the benchmark:
 * `errors` holds every error the player reported (fatal ones flagged), and
 * `sample()` what the video element shows: media time, frames decoded
 * (`getVideoPlaybackQuality()`) and presented (`requestVideoFrameCallback`);
 * `samplePlayback(page)` reads it from a test. Neither touches the player.
 * Plain hls.js also sets `window.stagecast.hls` so bench/lib/clockReader.ts
 * records the player's own latency and target.
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';

export type PlainPlayer = 'hlsjs' | 'dashjs' | 'shaka';

// The packages' own browser builds, by path: their `exports` maps do not expose dist files.
const dist = (file: string): string => fileURLToPath(new URL(`../../node_modules/${file}`, import.meta.url));
const LIBS: Record<string, string> = {
  'hls.js': dist('hls.js/dist/hls.min.js'),
  'dash.js': dist('dashjs/dist/modern/umd/dash.all.min.js'),
  'shaka.js': dist('shaka-player/dist/shaka-player.compiled.js'),
};

/** Common page frame: a muted autoplaying video and an error log. */
function page(lib: string, body: string): string {
  return `<!doctype html>
<meta charset="utf-8">
<title>plain player</title>
<video id="video" muted autoplay playsinline style="width:640px;height:360px"></video>
<script src="/lib/${lib}"></script>
<script>
const video = document.getElementById('video');
const src = new URLSearchParams(location.search).get('src');
window.__player = { name: '${lib}', errors: [], events: [] };
const report = (fatal, detail) => window.__player.errors.push({ at: Date.now(), fatal, detail: String(detail).slice(0, 300) });
video.addEventListener('error', () => report(true, 'video element: ' + (video.error && video.error.message)));
window.__player.presented = 0;
if (video.requestVideoFrameCallback) {
  const onFrame = () => { window.__player.presented++; video.requestVideoFrameCallback(onFrame); };
  video.requestVideoFrameCallback(onFrame);
}
window.__player.sample = () => {
  const q = video.getVideoPlaybackQuality();
  const b = video.buffered;
  return {
    currentTime: video.currentTime, frames: q.totalVideoFrames, dropped: q.droppedVideoFrames, presented: window.__player.presented,
    readyState: video.readyState, paused: video.paused, ended: video.ended, width: video.videoWidth, height: video.videoHeight,
    bufferedEnd: b.length ? b.end(b.length - 1) : 0, ranges: Array.from({ length: Math.min(b.length, 6) }, (_, i) => [b.start(b.length - 1 - i), b.end(b.length - 1 - i)].map((x) => Number(x.toFixed(2)))).reverse(),
    errors: window.__player.errors.slice(),
  };
};
${body}
</script>
`;
}

const PAGES: Record<PlainPlayer, string> = {
  // hls.js: only lowLatencyMode (its default is already true; stated so the page says what it tests).
  hlsjs: page(
    'hls.js',
    `const hls = new Hls({ lowLatencyMode: true });
window.stagecast = { hls };
hls.on(Hls.Events.ERROR, (_e, d) => report(d.fatal, d.type + '/' + d.details));
hls.loadSource(src);
hls.attachMedia(video);`,
  ),
  // dash.js: exactly the snippet of its README, no updateSettings().
  dashjs: page(
    'dash.js',
    `const player = dashjs.MediaPlayer().create();
player.on(dashjs.MediaPlayer.events.ERROR, (e) => report(true, JSON.stringify(e.error || e)));
player.on(dashjs.MediaPlayer.events.PLAYBACK_ERROR, (e) => report(true, 'playback ' + JSON.stringify(e.error || e)));
player.initialize(video, src, true);
window.__player.dash = player;`,
  ),
  // Shaka: default configuration; load() picks DASH or HLS from the manifest.
  shaka: page(
    'shaka.js',
    `shaka.polyfill.installAll();
const player = new shaka.Player();
// shaka.util.Error: code (see shaka.util.Error.Code), category, and its data (for HTTP errors: URI, status, …).
const shakaError = (e) => 'shaka ' + e.code + ' category ' + e.category + ' ' + JSON.stringify(e.data, (k, v) => (typeof v === 'string' ? v.slice(0, 120) : v));
player.addEventListener('error', (e) => report(e.detail.severity === 2, shakaError(e.detail)));
window.__player.shaka = player;
player.attach(video).then(() => player.load(src)).then(() => video.play()).catch((e) => report(true, 'shaka load ' + (e.code ? shakaError(e) : e.message || e)));`,
  ),
};

/** What a plain player's video element shows at one moment (`window.__player.sample()`). */
export interface PlaybackSample {
  currentTime: number;
  /** `getVideoPlaybackQuality().totalVideoFrames`: frames decoded so far (dropped ones included). */
  frames: number;
  dropped: number;
  /** Frames presented for composition, counted by `requestVideoFrameCallback`. */
  presented: number;
  readyState: number;
  paused: boolean;
  ended: boolean;
  width: number;
  height: number;
  bufferedEnd: number;
  /** The video element's last buffered ranges (up to 6), [start, end] in seconds: holes show as several. */
  ranges: [number, number][];
  errors: { at: number; fatal: boolean; detail: string }[];
}

/** Reads a plain player page's `window.__player.sample()`. */
export function samplePlayback(page: Page): Promise<PlaybackSample> {
  // A string: the test's TypeScript build would wrap a function's inner names in a `__name` call the page lacks.
  return page.evaluate('window.__player.sample()') as Promise<PlaybackSample>;
}

export interface PlainPlayerServer {
  /** e.g. `http://127.0.0.1:40123` */
  readonly url: string;
  /** URL of `player`'s page playing `manifestUrl`. */
  pageUrl(player: PlainPlayer, manifestUrl: string): string;
  close(): Promise<void>;
}

export async function startPlainPlayers(host = '127.0.0.1'): Promise<PlainPlayerServer> {
  const libs = new Map<string, Buffer>();
  for (const [name, path] of Object.entries(LIBS)) libs.set(name, await readFile(path));
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const lib = path.startsWith('/lib/') ? libs.get(path.slice(5)) : undefined;
    if (lib) {
      res.writeHead(200, { 'Content-Type': 'text/javascript', 'Cache-Control': 'max-age=3600' }).end(lib);
      return;
    }
    const name = path.replace(/^\/|\.html$/g, '') as PlainPlayer;
    if (Object.hasOwn(PAGES, name)) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(PAGES[name]);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    url,
    pageUrl: (player, manifestUrl) => `${url}/${player}.html?src=${encodeURIComponent(manifestUrl)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
