// Several hosts on one broadcast: each host is its own Chromium with a fake camera
// showing a solid colour and a fake microphone playing a tone; a viewer in hls.js
// reads the program's frames back by region. Hosts join, leave, come back, get
// muted and removed; the layout changes; the active speaker follows the loud
// tone; with nobody left the slate goes out until the grace period ends.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { RunningApp } from '../../app/server.ts';
import { api, startTestApp } from '../helpers/app.ts';
import { launchChromium } from '../helpers/browser.ts';
import { SignalClient } from '../helpers/signalClient.ts';

const STAGE = 'hosts';
const GRACE_MS = 10_000;
/** Colours as the viewer decodes them (lavfi's `green` is #008000; the slate is #283c78). */
const COLOURS = { red: [255, 0, 0], green: [0, 128, 0], blue: [0, 0, 255], black: [0, 0, 0], slate: [40, 60, 120] } as const;
type Colour = keyof typeof COLOURS;
type HostName = 'red' | 'green' | 'blue';

let app: RunningApp;
let dir: string;
const browsers = new Map<HostName, Browser>();
const hostPages = new Map<HostName, Page>();
const tokens = new Map<HostName, string>();
let viewer: Page;

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...args]);
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'stagecast-hosts-'));
  // Generated at test time, never committed: 2 s loops of a solid colour, 5 s loops of a tone.
  for (const c of ['red', 'green', 'blue']) {
    ffmpeg(['-f', 'lavfi', '-i', `color=${c}:s=320x240:r=15`, '-t', '2', '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', path.join(dir, `${c}.y4m`)]);
  }
  ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '5', '-af', 'volume=4', '-c:a', 'pcm_s16le', path.join(dir, 'loud.wav')]);
  ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=1500:sample_rate=48000', '-t', '5', '-af', 'volume=0.15', '-c:a', 'pcm_s16le', path.join(dir, 'quiet.wav')]);
  app = await startTestApp({
    // Three Chromium hosts, FFmpeg and a viewer on a shared 2-core machine: starts may be slow.
    transcode: { ladder: [{ name: '360p', height: 360, bitrateKbps: 600 }], x264Preset: 'ultrafast', fps: 15, supervision: { startTimeoutMs: 25_000 } },
    compose: { hostGraceMs: GRACE_MS },
    endedGraceMs: 2000,
  });
  assert.equal((await api(app, 'POST', '/stages', { id: STAGE })).status, 201);
  for (const name of ['red', 'green', 'blue'] as const) {
    const audio = name === 'red' ? 'loud' : 'quiet';
    browsers.set(
      name,
      await launchChromium([`--use-file-for-fake-video-capture=${path.join(dir, `${name}.y4m`)}`, `--use-file-for-fake-audio-capture=${path.join(dir, `${audio}.wav`)}`]),
    );
    const t = await api<{ hostToken: string }>(app, 'POST', `/stages/${STAGE}/host-tokens`, { hostName: name });
    tokens.set(name, t.body.hostToken);
  }
});

after(async () => {
  for (const b of browsers.values()) await b.close().catch(() => {});
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const stage = () => app.sfu.getStage(STAGE)!;
const hostIdOf = (name: HostName) => stage().hosts.find((h) => h.name === name)?.id;

/** Opens a host page that goes live at once, and waits until its audio and video are on the stage. */
async function join(name: HostName): Promise<void> {
  const page = await browsers.get(name)!.newPage();
  hostPages.set(name, page);
  await page.goto(`${app.url}/host/?stage=${STAGE}&autostart=1&audioProcessing=off#token=${encodeURIComponent(tokens.get(name)!)}`);
  await until(() => {
    const id = hostIdOf(name);
    return id !== undefined && stage().producers.filter((p) => p.hostId === id).length === 2;
  }, 20_000, `${name} publishing`);
}

/** The host's connection drops (its page goes away). */
async function leave(name: HostName): Promise<void> {
  await hostPages.get(name)?.close();
  hostPages.delete(name);
  await until(() => hostIdOf(name) === undefined, 10_000, `${name} gone from the stage`);
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
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
async function colours(points: readonly (readonly [number, number])[]): Promise<Colour[]> {
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

const LEFT = [0.25, 0.5] as const;
const RIGHT = [0.75, 0.5] as const;
const TOP_LEFT = [0.25, 0.25] as const;
const TOP_RIGHT = [0.75, 0.25] as const;
const BOTTOM_LEFT = [0.25, 0.75] as const;
const BOTTOM_RIGHT = [0.75, 0.75] as const;
const CENTRE = [0.5, 0.5] as const;
const CORNER = [0.04, 0.06] as const;

/** Waits until the viewer's frames show the expected colour at every point; says what it saw otherwise. */
async function waitLayout(expected: [readonly [number, number], Colour][], timeoutMs = 40_000): Promise<number> {
  const start = Date.now();
  let seen: Colour[] = [];
  for (;;) {
    seen = await colours(expected.map(([p]) => p));
    if (seen.length && expected.every(([, c], i) => seen[i] === c)) return Date.now() - start;
    if (Date.now() - start > timeoutMs) {
      throw new Error(`viewer shows ${JSON.stringify(seen)}, expected ${JSON.stringify(expected.map(([, c]) => c))}; program ${JSON.stringify((await status()).program)}`);
    }
    await new Promise((r) => setTimeout(r, 400));
  }
}

type Status = { state: string; program?: { mode: string; speaker?: string; videos: { hostId: string }[]; audios: string[]; slate: boolean; changes: number } };
async function status(): Promise<Status> {
  return (await api<{ broadcast: Status }>(app, 'GET', `/stages/${STAGE}`)).body.broadcast;
}

async function playback(): Promise<{ currentTime: number; state: string; ended: boolean; errors: number; stalls: number }> {
  return viewer.evaluate(() => {
    const v = document.getElementById('video') as HTMLVideoElement;
    const w = window as unknown as { stalls: number; errors: number };
    return { currentTime: v.currentTime, state: document.getElementById('state')!.dataset.state ?? '', ended: v.ended, errors: w.errors, stalls: w.stalls };
  });
}

/** Playback went on through a change: media time advanced by `seconds` since `t0`, nothing ended, no error. */
async function keptPlaying(t0: number, seconds: number): Promise<void> {
  await viewer.waitForFunction((t) => (document.getElementById('video') as HTMLVideoElement).currentTime > t, t0 + seconds, { timeout: 30_000, polling: 200 });
  const p = await playback();
  assert.equal(p.ended, false);
  assert.equal(p.errors, 0);
  assert.notEqual(p.state, 'ended');
}

async function playlist(): Promise<string> {
  return (await fetch(`${app.url}/live/${STAGE}/video-360p/index.m3u8`)).text();
}

/** Mean level (dB) of the newest audio segment of the HLS audio rendition in a frequency band, decoded by FFmpeg. */
async function audioBandLevel(hz: number): Promise<number> {
  const base = `${app.url}/live/${STAGE}/audio/`;
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

test('two hosts in a grid, a third joins, one drops and comes back: the layout follows, audio is mixed, playback never ends', async (t) => {
  await join('red');
  await join('green');
  const live = await api<{ broadcast: Status }>(app, 'POST', `/stages/${STAGE}/live`);
  assert.equal(live.status, 201, JSON.stringify(live.body));
  viewer = await browsers.get('red')!.newPage();
  await viewer.goto(`${app.url}/watch/?broadcast=${STAGE}`);
  await viewer.waitForFunction(() => document.getElementById('state')?.dataset.state === 'playing', undefined, { timeout: 40_000, polling: 200 });
  await viewer.evaluate(() => {
    const w = window as unknown as { stalls: number; errors: number };
    w.stalls = 0;
    w.errors = 0;
    const v = document.getElementById('video')!;
    v.addEventListener('waiting', () => w.stalls++);
    v.addEventListener('error', () => w.errors++);
  });

  // Two hosts side by side, in join order.
  await waitLayout([[LEFT, 'red'], [RIGHT, 'green']]);
  // Both tones are in the mix: the loud 440 Hz and the quiet 1500 Hz.
  const [low, high] = [await audioBandLevel(440), await audioBandLevel(1500)];
  t.diagnostic(`audio rendition: 440 Hz band ${low} dB, 1500 Hz band ${high} dB`);
  assert.ok(low > -30, `loud host's tone in the mix: ${low} dB`);
  assert.ok(high > -60, `quiet host's tone in the mix: ${high} dB`);
  assert.ok(low > high + 10, 'the loud host is louder than the quiet one');

  // A third host joins: a 2×2 grid with an empty (black) cell.
  let t0 = (await playback()).currentTime;
  await join('blue');
  const joinedMs = await waitLayout([[TOP_LEFT, 'red'], [TOP_RIGHT, 'green'], [BOTTOM_LEFT, 'blue'], [BOTTOM_RIGHT, 'black']]);
  t.diagnostic(`third host in the viewer's grid ${joinedMs} ms after it published`);
  await keptPlaying(t0, 2);

  // Green's connection drops: red and blue side by side; the playlist has a discontinuity and no end.
  t0 = (await playback()).currentTime;
  await leave('green');
  await waitLayout([[LEFT, 'red'], [RIGHT, 'blue']]);
  await keptPlaying(t0, 2);
  const pl = await playlist();
  assert.match(pl, /#EXT-X-DISCONTINUITY\n/);
  assert.doesNotMatch(pl, /#EXT-X-ENDLIST/);

  // Green comes back: third in the grid now (join order).
  t0 = (await playback()).currentTime;
  await join('green');
  await waitLayout([[TOP_LEFT, 'red'], [TOP_RIGHT, 'blue'], [BOTTOM_LEFT, 'green']]);
  await keptPlaying(t0, 2);
  const s = await status();
  assert.equal(s.state, 'live');
  assert.ok(s.program!.changes >= 3, `program changes: ${s.program!.changes}`);
  const p = await playback();
  t.diagnostic(`viewer stalls over the whole test: ${p.stalls}`);
});

test('speaker layout: the program shows the loud host, and switches when the loud tone moves to another host', async (t) => {
  assert.equal((await api(app, 'PUT', `/stages/${STAGE}/layout`, { mode: 'speaker' })).status, 200);
  await waitLayout([[CENTRE, 'red'], [CORNER, 'black']]);
  await until(async () => (await status()).program?.speaker === hostIdOf('red'), 10_000, 'red as the active speaker');
  const t0 = (await playback()).currentTime;
  // Red's microphone goes silent (the track is disabled, the producer stays): green and blue remain, equally quiet.
  const switchedAt = Date.now();
  await hostPages.get('red')!.evaluate(() => {
    for (const tr of ((document.getElementById('preview') as HTMLVideoElement).srcObject as MediaStream).getAudioTracks()) tr.enabled = false;
  });
  await until(async () => {
    const sp = (await status()).program?.speaker;
    return sp !== undefined && sp !== hostIdOf('red');
  }, 20_000, 'another host as the active speaker');
  const speakerMs = Date.now() - switchedAt;
  const speakerId = (await status()).program?.speaker ?? '';
  const speaker = stage().hosts.find((h) => h.id === speakerId)!.name as HostName;
  await waitLayout([[CENTRE, speaker]]);
  t.diagnostic(`the speaker moved to ${speaker} ${speakerMs} ms after red went silent (hysteresis: 1 s dominance, 2.5 s hold)`);
  await keptPlaying(t0, 2);
  await hostPages.get('red')!.evaluate(() => {
    for (const tr of ((document.getElementById('preview') as HTMLVideoElement).srcObject as MediaStream).getAudioTracks()) tr.enabled = true;
  });
  assert.equal((await api(app, 'PUT', `/stages/${STAGE}/layout`, { mode: 'grid' })).status, 200);
  await waitLayout([[TOP_LEFT, 'red'], [TOP_RIGHT, 'blue'], [BOTTOM_LEFT, 'green']]);
});

test('the owner mutes and removes hosts; bad ids are 404, bad bodies 400; a tenth host is refused while the broadcast goes on', async () => {
  const wsUrl = `${app.url.replace('http', 'ws')}/host/ws`;
  const red = hostIdOf('red')!;
  const blue = hostIdOf('blue')!;
  // Bad input first: nothing changes.
  assert.equal((await api(app, 'POST', `/stages/${STAGE}/hosts/nobody/mute`, { video: true })).status, 404);
  assert.equal((await api(app, 'POST', `/stages/nostage/hosts/${red}/mute`, { video: true })).status, 404);
  assert.equal((await api(app, 'DELETE', `/stages/${STAGE}/hosts/nobody`)).status, 404);
  assert.equal((await api(app, 'PUT', `/stages/nostage/layout`, { mode: 'grid' })).status, 404);
  for (const body of [{}, { video: 'yes' }, { video: true, extra: 1 }]) {
    const r = await api<{ error: { code: string } }>(app, 'POST', `/stages/${STAGE}/hosts/${red}/mute`, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error.code, 'invalid-request');
  }
  assert.equal((await api(app, 'PUT', `/stages/${STAGE}/layout`, { mode: 'pip' })).status, 400);

  // Muting red's video takes it out of the grid; its audio stays in the mix.
  const muted = await api<{ muted: { video: boolean; audio: boolean }; producers: { kind: string; paused: boolean }[] }>(app, 'POST', `/stages/${STAGE}/hosts/${red}/mute`, { video: true });
  assert.equal(muted.status, 200);
  assert.deepEqual(muted.body.muted, { audio: false, video: true });
  assert.equal(muted.body.producers.find((p) => p.kind === 'video')?.paused, true);
  await waitLayout([[LEFT, 'blue'], [RIGHT, 'green']]);
  assert.ok((await status()).program!.audios.includes(red));
  await api(app, 'POST', `/stages/${STAGE}/hosts/${red}/mute`, { video: false });
  await waitLayout([[TOP_LEFT, 'red'], [TOP_RIGHT, 'blue'], [BOTTOM_LEFT, 'green']]);

  // The stage lists its hosts with role, producers, muted and speaking.
  const listed = await api<{ hostList: { id: string; name: string; role: string; producers: unknown[]; muted: unknown; speaking: boolean }[] }>(app, 'GET', `/stages/${STAGE}`);
  assert.deepEqual(listed.body.hostList.map((h) => h.name), ['red', 'blue', 'green']);
  assert.ok(listed.body.hostList.every((h) => h.role === 'host' && h.producers.length === 2 && typeof h.speaking === 'boolean'));

  // A tenth host: seven more join over raw signalling (3 + 7 = 10 > 9).
  const extra: SignalClient[] = [];
  try {
    const token = (await api<{ hostToken: string }>(app, 'POST', `/stages/${STAGE}/host-tokens`, { role: 'host-audio' })).body.hostToken;
    for (let i = 0; i < 7; i++) {
      const c = await SignalClient.connect(wsUrl);
      extra.push(c);
      const r = await c.request('join', { stageId: STAGE, token });
      if (i < 6) assert.equal(r.ok, true, JSON.stringify(r));
      else {
        assert.equal(r.ok, false);
        assert.equal(r.error?.code, 'stage-full');
        assert.match(r.error?.message ?? '', /already has 9 hosts/);
      }
    }
    assert.equal((await status()).state, 'live');
  } finally {
    for (const c of extra) c.close();
  }

  // Removing blue: its page is told why and disconnected, and it leaves the program.
  assert.equal((await api(app, 'DELETE', `/stages/${STAGE}/hosts/${blue}`)).status, 204);
  await hostPages.get('blue')!.waitForFunction(() => /removed by the stage owner/.test(document.getElementById('error')?.textContent ?? ''), undefined, { timeout: 10_000, polling: 200 });
  await waitLayout([[LEFT, 'red'], [RIGHT, 'green']]);
  assert.equal((await status()).state, 'live');
  await hostPages.get('blue')!.close();
  hostPages.delete('blue');
});

test('every host gone: the slate and silence go out, a host back within the grace resumes the program; after the grace the broadcast ends', async (t) => {
  let t0 = (await playback()).currentTime;
  await leave('red');
  await leave('green');
  await waitLayout([[CORNER, 'slate']]);
  await keptPlaying(t0, 2);
  assert.doesNotMatch(await playlist(), /#EXT-X-ENDLIST/);
  const s = await status();
  assert.equal(s.state, 'live');
  assert.equal(s.program!.slate, true);

  // Red comes back within the grace period.
  t0 = (await playback()).currentTime;
  await join('red');
  await waitLayout([[CENTRE, 'red']]);
  await keptPlaying(t0, 2);
  assert.equal((await status()).state, 'live');

  // Gone again, for longer than the grace: the broadcast ends (ENDLIST).
  const goneAt = Date.now();
  await leave('red');
  await until(async () => (await status()).state === 'ended', GRACE_MS + 20_000, 'the broadcast to end');
  const endedAfter = Date.now() - goneAt;
  t.diagnostic(`ended ${endedAfter} ms after the last host left (grace ${GRACE_MS} ms)`);
  assert.ok(endedAfter >= GRACE_MS, `ended after ${endedAfter} ms`);
  assert.match(await playlist(), /#EXT-X-ENDLIST/);
});
