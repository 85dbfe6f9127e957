// Several hosts on one broadcast, for the end-to-end tests: each host is its own
// Chromium with a fake camera showing a solid colour and a fake microphone playing
// a tone (generated at test time, never committed); a viewer in hls.js reads the
// program's frames back by region. One fixture per test file (process), built on
// the end-to-end harness (e2e/harness.ts), which starts and tears down all of it.
import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { AppConfigInput } from '../../app/config.ts';
import type { RunningApp } from '../../app/server.ts';
import { api } from './app.ts';
import { startE2e, type E2e } from './e2e/harness.ts';
import { stallStats, watchStalls } from './stalls.ts';
import { until as waitUntil } from './wait.ts';

export const STAGE = 'hosts';
// Long enough for the checks between the last host leaving and one returning on a loaded machine.
export const GRACE_MS = 25_000;
/** Colours as the viewer decodes them (lavfi's `green` is #008000; the slate is #283c78). */
const COLOURS = { red: [255, 0, 0], green: [0, 128, 0], blue: [0, 0, 255], black: [0, 0, 0], slate: [40, 60, 120] } as const;
type Colour = keyof typeof COLOURS;
export type HostName = 'red' | 'green' | 'blue';

export let app: RunningApp;
let h: E2e | undefined;
const browsers = new Map<HostName, Browser>();
export const hostPages = new Map<HostName, Page>();
const hostUrls = new Map<HostName, string>();
let viewer: Page;

/** The harness under the fixture: for what a test adds (more browsers, plain players). */
export function harness(): E2e {
  if (!h) throw new Error('setupHosts() has not run');
  return h;
}

/** A viewer page (in red's browser) playing the broadcast, counting stalls and errors. */
export async function openViewer(): Promise<Page> {
  viewer = await harness().openViewer({ kind: 'watch', broadcast: STAGE, browser: browsers.get('red')!, playingWithinMs: 60_000 });
  await viewer.evaluate(() => {
    const w = window as unknown as { errors: number };
    w.errors = 0;
    const v = document.getElementById('video')!;
    v.addEventListener('error', () => w.errors++);
    // hls.js's own errors (fatal or not), for the failure message of a stuck viewer.
    const d = window as unknown as { hlsErrors: string[]; stagecast: { hls?: { on(e: string, f: (e: string, data: { details: string; fatal: boolean }) => void): void } } };
    d.hlsErrors = [];
    d.stagecast.hls?.on('hlsError', (_e, data) => {
      d.hlsErrors.push(`${(v as HTMLVideoElement).currentTime.toFixed(2)}: ${data.details}${data.fatal ? ' (fatal)' : ''}`);
      if (d.hlsErrors.length > 30) d.hlsErrors.shift();
    });
  });
  await watchStalls(viewer);
  return viewer;
}

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...args]);
}

/** What a test file changes of the fixture: the app's transcode config, the cameras' size and the host pages' query. */
export interface HostsOptions {
  transcode?: AppConfigInput['transcode'];
  /** The fake cameras' picture, `WxH` (default 320x240). */
  cameraSize?: string;
  /** More of the host page's query (`codec=video/H264&simulcast=3`, say). */
  hostQuery?: string;
  /** The hosts that get a browser (default all three). */
  hosts?: readonly HostName[];
  /** The app's packager config (captions, say). */
  packager?: AppConfigInput['packager'];
}
let hostQuery = '';

/** Generates the media, starts the app with the stage and one browser per host. */
export async function setupHosts(options: HostsOptions = {}): Promise<void> {
  h = await startE2e({ app: false });
  const dir = h.tempDir('stagecast-hosts-');
  hostQuery = options.hostQuery ? `&${options.hostQuery}` : '';
  const names = options.hosts ?? (['red', 'green', 'blue'] as const);
  // Generated at test time, never committed: 2 s loops of a solid colour, 5 s loops of a tone.
  for (const c of names) {
    ffmpeg(['-f', 'lavfi', '-i', `color=${c}:s=${options.cameraSize ?? '320x240'}:r=15`, '-t', '2', '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', path.join(dir, `${c}.y4m`)]);
  }
  ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '5', '-af', 'volume=4', '-c:a', 'pcm_s16le', path.join(dir, 'loud.wav')]);
  ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=1500:sample_rate=48000', '-t', '5', '-af', 'volume=0.15', '-c:a', 'pcm_s16le', path.join(dir, 'quiet.wav')]);
  app = await h.startApp({
    // Three Chromium hosts, FFmpeg and a viewer on a shared 2-core machine: starts may be slow.
    transcode: options.transcode ?? { ladder: [{ name: '360p', height: 360, bitrateKbps: 600 }], x264Preset: 'ultrafast', fps: 15, supervision: { startTimeoutMs: 25_000 } },
    compose: { hostGraceMs: GRACE_MS },
    endedGraceMs: 2000,
    ...(options.packager ? { packager: options.packager } : {}),
  });
  assert.equal((await api(app, 'POST', '/stages', { id: STAGE })).status, 201);
  for (const name of names) {
    const audio = name === 'red' ? 'loud' : 'quiet';
    browsers.set(
      name,
      await h.launchBrowser([`--use-file-for-fake-video-capture=${path.join(dir, `${name}.y4m`)}`, `--use-file-for-fake-audio-capture=${path.join(dir, `${audio}.wav`)}`]),
    );
    const t = await api<{ hostUrl: string }>(app, 'POST', `/stages/${STAGE}/host-tokens`, { hostName: name });
    hostUrls.set(name, t.body.hostUrl);
  }
}

export async function teardownHosts(): Promise<void> {
  await h?.close();
}

export const stage = () => app.sfu.getStage(STAGE)!;
export const hostIdOf = (name: HostName) => stage().hosts.find((h) => h.name === name)?.id;

/** Opens a host page that goes live at once, and waits until its audio and video are on the stage. */
export async function join(name: HostName): Promise<void> {
  const page = await harness().publishHost({
    stage: STAGE,
    hostUrl: hostUrls.get(name)!,
    query: `audioProcessing=off${hostQuery}`,
    browser: browsers.get(name)!,
    published: (s) => {
      const id = s.hosts.find((host) => host.name === name)?.id;
      return id !== undefined && s.producers.filter((p) => p.hostId === id).length === 2;
    },
    timeoutMs: 20_000,
  });
  hostPages.set(name, page);
}

/** The host's microphone on or off (the track is enabled or disabled; its producer stays): how a test makes a host speak or fall silent. */
export async function setMic(name: HostName, on: boolean): Promise<void> {
  await hostPages.get(name)!.evaluate((enabled) => {
    for (const tr of ((document.getElementById('preview') as HTMLVideoElement).srcObject as MediaStream).getAudioTracks()) tr.enabled = enabled;
  }, on);
}

/** The host's connection drops (its page goes away). */
export async function leave(name: HostName): Promise<void> {
  await hostPages.get(name)?.close();
  hostPages.delete(name);
  await until(() => hostIdOf(name) === undefined, 10_000, `${name} gone from the stage`);
}

/** Waits for a condition (harness wait.until, in the argument order the host tests use). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  await waitUntil(what, check, timeoutMs);
}

function nearest(rgb: number[]): Colour {
  let best: Colour = 'black';
  let bestD = Infinity;
  for (const [name, c] of Object.entries(COLOURS) as [Colour, readonly number[]][]) {
    const d = c.reduce((sum, v, i) => sum + (v - (rgb[i] ?? 0)) ** 2, 0);
    if (d < bestD) [best, bestD] = [name, d];
  }
  return best;
}

/** The colours the viewer shows at points given as fractions of the frame. */
export async function colours(points: readonly (readonly [number, number])[]): Promise<Colour[]> {
  const rgbs = await viewer.evaluate((pts) => {
    const v = document.getElementById('video') as HTMLVideoElement;
    if (!v.videoWidth) return [];
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const ctx = c.getContext('2d', { willReadFrequently: true })!;
    ctx.drawImage(v, 0, 0);
    return pts.map(([x, y]) => Array.from(ctx.getImageData(Math.floor(x * c.width), Math.floor(y * c.height), 1, 1).data.slice(0, 3)));
  }, points as [number, number][]);
  return rgbs.map(nearest);
}

export const LEFT = [0.25, 0.5] as const;
export const RIGHT = [0.75, 0.5] as const;
export const TOP_LEFT = [0.25, 0.25] as const;
export const TOP_RIGHT = [0.75, 0.25] as const;
export const BOTTOM_LEFT = [0.25, 0.75] as const;
export const BOTTOM_RIGHT = [0.75, 0.75] as const;
export const CENTRE = [0.5, 0.5] as const;
export const CORNER = [0.04, 0.06] as const;

/** Waits until the viewer's frames show the expected colour at every point; says what it saw otherwise. */
export async function waitLayout(expected: [readonly [number, number], Colour][], timeoutMs = 40_000): Promise<number> {
  const start = Date.now();
  let seen: Colour[] = [];
  for (;;) {
    seen = await colours(expected.map(([p]) => p));
    if (seen.length && expected.every(([, c], i) => seen[i] === c)) return Date.now() - start;
    if (Date.now() - start > timeoutMs) {
      // The whole broadcast status (transcoder state, session, restarts) and the player's, so a
      // failure says whether FFmpeg never came up with the new program or the viewer stalled.
      const { program, ...rest } = (await status()) as Status & Record<string, unknown>;
      throw new Error(
        `viewer shows ${JSON.stringify(seen)}, expected ${JSON.stringify(expected.map(([, c]) => c))}; program ${JSON.stringify(program)}; ` +
          `broadcast ${JSON.stringify(rest)}; player ${JSON.stringify(await playback())}; buffer ${JSON.stringify(await bufferState())}; ` +
          `video playlist tail:\n${tail(await playlist())}\naudio playlist tail:\n${tail(await playlist('audio'))}`,
      );
    }
    await new Promise((r) => setTimeout(r, 400));
  }
}

export type Status = { state: string; program?: { mode: string; speaker?: string; videos: { hostId: string }[]; audios: string[]; slate: boolean; changes: number } };
export async function status(): Promise<Status> {
  return (await api<{ broadcast: Status }>(app, 'GET', `/stages/${STAGE}`)).body.broadcast;
}

/** The player's state; `stalls` counts 'waiting' events, `stalledMs` the time spent waiting in all. */
export async function playback(): Promise<{ currentTime: number; state: string; ended: boolean; errors: number; stalls: number; stalledMs: number }> {
  const p = await viewer.evaluate(() => {
    const v = document.getElementById('video') as HTMLVideoElement;
    const w = window as unknown as { errors: number };
    return { currentTime: v.currentTime, state: document.getElementById('state')!.dataset.state ?? '', ended: v.ended, errors: w.errors };
  });
  const { events, stalledMs } = await stallStats(viewer);
  return { ...p, stalls: events, stalledMs: Math.round(stalledMs) };
}

/** Playback went on through a change: media time advanced by `seconds` since `t0`, nothing ended, no error. */
export async function keptPlaying(t0: number, seconds: number): Promise<void> {
  await viewer.waitForFunction((t) => (document.getElementById('video') as HTMLVideoElement).currentTime > t, t0 + seconds, { timeout: 30_000, polling: 200 });
  const p = await playback();
  assert.equal(p.ended, false);
  assert.equal(p.errors, 0);
  assert.notEqual(p.state, 'ended');
}

/** The stage's current broadcast id (each go-live has its own). */
export const broadcastId = (): string => app.broadcasts.get(STAGE)!.id;

export async function playlist(rendition = 'video-360p'): Promise<string> {
  return (await fetch(`${app.url}/live/${broadcastId()}/${rendition}/index.m3u8`)).text();
}

/** The playlist's header (sequence numbers) and its last lines, without the part and hint lines. */
function tail(text: string): string {
  const lines = text.split('\n').filter((l) => l && !l.startsWith('#EXT-X-PART:') && !l.startsWith('#EXT-X-PRELOAD-HINT'));
  return [...lines.filter((l) => /SEQUENCE/.test(l)), ...lines.slice(-16)].join('\n');
}

/** What the viewer has buffered and what hls.js reported, for the failure message of a stuck viewer. */
async function bufferState(): Promise<unknown> {
  return viewer.evaluate(() => {
    const v = document.getElementById('video') as HTMLVideoElement;
    const ranges = Array.from({ length: v.buffered.length }, (_, i) => [v.buffered.start(i).toFixed(3), v.buffered.end(i).toFixed(3)]);
    type Ctl = { state?: string; fragCurrent?: { sn: number | string; cc: number; type: string } | null };
    type H = {
      latency: number;
      liveSyncPosition: number | null;
      // hls.js internals, read only to explain a failure: each source buffer's ranges and each loader's state.
      bufferController?: { tracks: Record<string, { buffer?: SourceBuffer }> };
      streamController?: Ctl;
      audioStreamController?: Ctl;
    };
    const w = window as unknown as { hlsErrors?: string[]; stagecast: { hls?: H } };
    const h = w.stagecast.hls;
    const perBuffer = Object.fromEntries(
      Object.entries(h?.bufferController?.tracks ?? {}).map(([type, t]) => {
        const b = t.buffer?.buffered;
        return [type, b ? Array.from({ length: b.length }, (_, i) => [b.start(i).toFixed(3), b.end(i).toFixed(3)]) : null];
      }),
    );
    // No named helper functions in here: the test's TypeScript build would wrap them in a `__name` call the page lacks.
    const [main, audio] = [h?.streamController, h?.audioStreamController].map(
      (c) => c && { state: c.state, frag: c.fragCurrent && { sn: c.fragCurrent.sn, cc: c.fragCurrent.cc } },
    );
    return {
      currentTime: v.currentTime,
      readyState: v.readyState,
      ranges,
      perBuffer,
      main,
      audio,
      latency: h?.latency,
      liveSyncPosition: h?.liveSyncPosition,
      hlsErrors: w.hlsErrors ?? [],
    };
  });
}

/** Mean level (dB) of the newest audio segment of the HLS audio rendition in a frequency band, decoded by FFmpeg. */
export async function audioBandLevel(hz: number): Promise<number> {
  const base = `${app.url}/live/${broadcastId()}/audio/`;
  const text = await (await fetch(`${base}index.m3u8`)).text();
  const maps = [...text.matchAll(/#EXT-X-MAP:URI="([^"]+)"/g)].map((m) => m[1]!);
  const segs = [...text.matchAll(/^(seg-\d+\.m4s)$/gm)].map((m) => m[1]!);
  const init = Buffer.from(await (await fetch(base + maps.at(-1)!)).arrayBuffer());
  const seg = Buffer.from(await (await fetch(base + segs.at(-1)!)).arrayBuffer());
  const stderr = await new Promise<string>((resolve, reject) => {
    const child = execFile(
      'ffmpeg',
      ['-hide_banner', '-i', 'pipe:0', '-af', `bandpass=f=${hz}:width_type=h:w=100,volumedetect`, '-f', 'null', '-'],
      (err, _out, errText) => (err ? reject(err) : resolve(errText)),
    );
    child.stdin!.end(Buffer.concat([init, seg]));
  });
  const m = /mean_volume: (-?[\d.]+) dB/.exec(stderr);
  return m ? Number(m[1]) : -Infinity;
}

