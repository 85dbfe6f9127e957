/**
 * npm run bench:transcode [-- --seconds 10] [--only <scenario substring>]
 *
 * The transcode cost of the path that ships, per scenario: the app in this
 * process (as `npm start` runs it: SFU, LiveBroadcast, the in-process
 * packager), a Chromium host page publishing its fake camera at the
 * scenario's size and codec through the SFU, and the control API's go-live.
 * For each preset ladder, for passthrough and for simulcast (beside the hd
 * ladder fed by the same 3-layer host, and their ratio) it prints CPU-seconds per
 * media-second and speed (media-s per wall-s; the input is live, so 1.00 keeps
 * up) of
 *   ours:  the broadcast's FFmpeg plus this process's CPU (packager, bridge,
 *          app; not the mediasoup worker nor Chromium, which a plain FFmpeg
 *          needs as much), media-seconds counted from the parts of the top
 *          rendition that landed in the packager;
 *   plain: a plain `ffmpeg` with ours' exact argv (read from its /proc
 *          cmdline), its outputs pointed at a discard receiver in another
 *          process, fed by a second RTP output of the same stage while the
 *          same host keeps publishing; media-seconds from its `time=`.
 * Ratio = ours / plain: what the wrapper costs on top of FFmpeg.
 * Then (without --only, or with --only thumbnails) what thumbnails add to the
 * hd plan, on a synthetic source read as fast as FFmpeg goes (thumbnailCost).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import type { AppConfigInput } from '../app/config.ts';
import type { RunningApp } from '../app/server.ts';
import { UdpPortPool, isUdpPortBound } from '../common/index.ts';
import type { RtpOutput, RtpOutputSource } from '../ingest/index.ts';
import { chooseLayout, ffmpegArgs, ffmpegSdp, parseTranscodeConfig, planProgram, rtpInputOptions, type ProgramInput } from '../transcode/index.ts';
import { api, startTestApp, type TestAppOverrides } from '../test/helpers/app.ts';
import { launchChromium } from '../test/helpers/browser.ts';
import { procCpuSeconds } from './lib/procStats.ts';

const FFMPEG = '/usr/bin/ffmpeg';
const argSeconds = process.argv.indexOf('--seconds');
const WINDOW_S = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 10;
const argOnly = process.argv.indexOf('--only');
const ONLY = argOnly > 0 ? process.argv[argOnly + 1] : undefined;
const WARMUP_S = 3;

interface Scenario {
  name: string;
  /** Host page query: the codec it sends and the camera size it captures. */
  host: string;
  transcode: NonNullable<AppConfigInput['transcode']>;
  ingest?: TestAppOverrides['ingest'];
  /** Go live once the host page sends this many simulcast layers (its bandwidth estimate adds them). */
  layers?: number;
}

const HD = 'hd 720p+360p veryfast (default), VP8 720p host';
const HD_NO_THUMBS = 'hd 720p+360p veryfast, no thumbnails, VP8 720p host';
const SIMULCAST_BASE = 'hd 720p+360p veryfast, H.264 3-layer simulcast 720p host';
const SIMULCAST = 'simulcast (3 layers copied, AAC), H.264 3-layer simulcast 720p host';

const scenarios: Scenario[] = [
  { name: HD, host: 'size=1280x720', transcode: {} },
  // The default ladder without its thumbnails (one 180p JPEG per segment): what they cost.
  { name: HD_NO_THUMBS, host: 'size=1280x720', transcode: { thumbnails: { enabled: false } } },
  { name: 'sd 360p veryfast, VP8 720p host', host: 'size=1280x720', transcode: { ladder: 'sd' } },
  { name: 'fullhd 1080p+720p+360p veryfast, VP8 1080p host', host: 'size=1920x1080', transcode: { ladder: 'fullhd' } },
  { name: 'fullhd 1080p+720p+360p ultrafast, VP8 1080p host', host: 'size=1920x1080', transcode: { ladder: 'fullhd', x264Preset: 'ultrafast' } },
  { name: 'passthrough, H.264 720p host (+AAC)', host: 'size=1280x720&codec=video/H264', transcode: { mode: 'passthrough' } },
  // The same simulcast host twice: the hd ladder encodes its top layer; simulcast copies its three.
  { name: SIMULCAST_BASE, host: 'size=1280x720&codec=video/H264', transcode: {}, ingest: { hostSimulcastLayers: 3 }, layers: 3 },
  { name: SIMULCAST, host: 'size=1280x720&codec=video/H264', transcode: { mode: 'simulcast' }, layers: 3 },
];

/** A CMAF receiver in its own process that reads and discards, so its CPU is not counted as ours. */
async function startDiscardReceiver(): Promise<{ child: ChildProcess; port: number }> {
  const code = `const http=require('node:http');const s=http.createServer((q,r)=>{q.resume();q.on('end',()=>r.end())});s.listen(0,'127.0.0.1',()=>console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [data] = (await once(child.stdout!, 'data')) as [Buffer];
  return { child, port: Number(data.toString().trim()) };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

interface Sample {
  cpu: number;
  media: number;
  wall: number;
}

interface Result {
  cpuPerMediaS: number;
  speed: number;
}

function result(a: Sample, b: Sample): Result {
  return { cpuPerMediaS: (b.cpu - a.cpu) / (b.media - a.media), speed: (b.media - a.media) / (b.wall - a.wall) };
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await delay(200);
  }
}

type StageStatus = { producers: unknown[]; broadcast?: { id: string; state: string; transcoder?: { pid?: number; state: string; videoCopied: boolean }; renditions: { trackId: string; kind: string }[] } };

/** Ours: the product's broadcast. Returns the result and FFmpeg's argv for the plain run. */
async function measureOurs(app: RunningApp, stageId: string): Promise<{ result: Result; argv: string[]; copied: boolean; renditions: string[] }> {
  const live = await api(app, 'POST', `/stages/${stageId}/live`);
  if (live.status !== 201) throw new Error(`go-live failed: ${JSON.stringify(live.body)}`);
  const status = await until('running FFmpeg', async () => {
    const b = (await api<StageStatus>(app, 'GET', `/stages/${stageId}`)).body.broadcast;
    return b?.transcoder?.pid !== undefined && b.transcoder.state === 'running' ? b : undefined;
  });
  const pid = status.transcoder!.pid!;
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(1);
  const top = status.renditions.find((r) => r.kind === 'video')!.trackId;
  let mediaS = 0;
  app.packager.getBroadcast(status.id)!.on('part', (track, seg, part) => {
    if (track === top) mediaS += part.duration / seg.timescale;
  });
  await delay(WARMUP_S * 1000);
  const sample = (): Sample => ({ cpu: procCpuSeconds(pid) + selfCpuSeconds(), media: mediaS, wall: performance.now() / 1000 });
  const a = sample();
  await delay(WINDOW_S * 1000);
  const b = sample();
  const renditions = status.renditions.map((r) => r.trackId);
  const after = (await api<StageStatus>(app, 'GET', `/stages/${stageId}`)).body.broadcast;
  if (after?.transcoder?.pid !== pid) throw new Error('FFmpeg restarted during the window: the figure would mix sessions');
  await api(app, 'POST', `/stages/${stageId}/stop`);
  return { result: result(a, b), argv, copied: status.transcoder!.videoCopied, renditions };
}

/** Plain FFmpeg with ours' argv (outputs to the discard receiver), on a second RTP output of the stage. */
async function measurePlain(app: RunningApp, stageId: string, argv: string[], fps: number | undefined, receiverPort: number, pool: UdpPortPool): Promise<Result> {
  const stage = app.sfu.getStage(stageId)!;
  // Video m-line first, then audio: the order ours' argv maps (`0:v:0`, `0:a:0`).
  // A copied simulcast program maps one video m-line per layer, highest first.
  const video = stage.producers.find((p) => p.kind === 'video')!;
  const videoLines = argv.filter((a) => /^0:v:\d+$/.test(a)).length;
  const videos: RtpOutputSource[] =
    videoLines > 1 && video.layers?.length === videoLines ? video.layers.map((_, i) => ({ producerId: video.id, spatialLayer: i })).reverse() : [video.id];
  const producerIds = [...videos, ...stage.producers.filter((p) => p.kind === 'audio').map((p) => p.id)];
  const output: RtpOutput = await stage.createRtpOutput({ producerIds, remoteIp: '127.0.0.1', portPool: pool });
  const plainArgv = argv.map((a) => a.replace(/^http:\/\/127\.0\.0\.1:\d+\/.*\/([^/]+)$/, `http://127.0.0.1:${receiverPort}/plain/$1`));
  const child = spawn(FFMPEG, plainArgv, { stdio: ['pipe', 'ignore', 'pipe'] });
  child.stdin!.end(ffmpegSdp(output.descriptor));
  // Media-seconds of encoded video: FFmpeg's `frame=` (frames of the first video output, at
  // the ladder's constant rate) over the frame rate. Its `time=` also advances on audio
  // alone while the video waits for a keyframe, which would count an idle encoder as a
  // cheap one. A copy keeps the host's variable frame rate: there `time=` it is.
  let mediaS = 0;
  let tail = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    tail = (tail + d).slice(-4000);
    if (fps === undefined) {
      const t = [...tail.matchAll(/time=(\d+):(\d+):([\d.]+)/g)].at(-1);
      if (t) mediaS = Number(t[1]) * 3600 + Number(t[2]) * 60 + Number(t[3]);
    } else {
      const f = [...tail.matchAll(/frame=\s*(\d+)/g)].at(-1);
      if (f) mediaS = Number(f[1]) / fps;
    }
  });
  try {
    for (const t of output.tracks) await until(`plain FFmpeg bound to ${t.ports.rtp}`, async () => ((await isUdpPortBound('127.0.0.1', t.ports.rtp)) || child.exitCode !== null ? true : undefined), 20_000);
    await output.resume();
    await until(
      'plain FFmpeg video output',
      async () => {
        if (child.exitCode !== null) throw new Error(`plain ffmpeg exited: ${tail}`);
        if (mediaS > 0) return true;
        await output.requestKeyFrame();
        return undefined;
      },
      30_000,
    );
    await delay(WARMUP_S * 1000);
    const sample = (): Sample => ({ cpu: procCpuSeconds(child.pid!), media: mediaS, wall: performance.now() / 1000 });
    const a = sample();
    await delay(WINDOW_S * 1000);
    return result(a, sample());
  } finally {
    await stop(child);
    output.close();
  }
}

async function runScenario(browser: Browser, s: Scenario, receiverPort: number, pool: UdpPortPool): Promise<string[]> {
  const app = await startTestApp({ transcode: { ...s.transcode, supervision: { startTimeoutMs: 30_000 } }, ...(s.ingest ? { ingest: s.ingest } : {}) });
  let host: Page | undefined;
  try {
    const stageId = 'bench';
    const created = await api<{ hostUrl: string }>(app, 'POST', '/stages', { id: stageId });
    host = await browser.newPage();
    await host.goto(created.body.hostUrl.replace('/host/?', `/host/?autostart=1&${s.host}&`));
    await until('two producers', () => ((app.sfu.getStage(stageId)?.producers.length ?? 0) >= 2 ? true : undefined));
    if (s.layers) await host.waitForFunction(`(document.getElementById('layers').dataset.heights || '').split(',').length === ${s.layers}`, undefined, { timeout: 60_000 });
    const ours = await measureOurs(app, stageId);
    const plain = await measurePlain(app, stageId, ours.argv, ours.copied ? undefined : parseTranscodeConfig(s.transcode).fps, receiverPort, pool);
    return [
      s.name,
      `${ours.copied ? 'copy' : 'x264'} ${ours.renditions.filter((r) => r !== 'audio').join('+')}`,
      ours.result.cpuPerMediaS.toFixed(3),
      ours.result.speed.toFixed(2),
      plain.cpuPerMediaS.toFixed(3),
      plain.speed.toFixed(2),
      (ours.result.cpuPerMediaS / plain.cpuPerMediaS).toFixed(3),
    ];
  } finally {
    await host?.close();
    await app.close();
  }
}

/**
 * What thumbnails add, measured without a live input's noise: the product's hd
 * plan for one 720p host, its SDP input replaced by 30 s of a synthetic 720p30
 * picture and tone (lavfi, read as fast as FFmpeg goes), outputs to the discard
 * receiver, with and without the thumbnail branch, alternated `runs` times;
 * FFmpeg's own `-benchmark` (user + system CPU) per run.
 */
async function thumbnailCost(receiverPort: number, runs = 5): Promise<{ withS: number[]; withoutS: number[] }> {
  const program: ProgramInput = {
    rtp: {
      address: '127.0.0.1',
      sessionName: 'synthetic',
      tracks: [
        { kind: 'video', port: 40000, payloadType: 96, mimeType: 'video/VP8', clockRate: 90000 },
        { kind: 'audio', port: 40002, payloadType: 111, mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
      ],
    },
    compose: { videos: [{ cell: { x: 0, y: 0, width: 1, height: 1 }, source: { width: 1280, height: 720 } }], audios: 1, slateImage: 'unused.png' },
  };
  const argvOf = (thumbnails: boolean): string[] => {
    const config = parseTranscodeConfig({});
    const target = (name: string) => `http://127.0.0.1:${receiverPort}/thumbs/${name}`;
    const plan = planProgram(config, chooseLayout(config, program), program, { targetFor: target, ...(thumbnails ? { thumbnailTarget: target('%d.jpg') } : {}) }, rtpInputOptions(config));
    const argv = ffmpegArgs(plan);
    // The SDP input (its options, then `-i pipe:0`) becomes the synthetic source: one lavfi input with v:0 and a:0.
    const i = argv.indexOf('-protocol_whitelist');
    const j = argv.indexOf('-i', i);
    return ['-benchmark', ...argv.slice(0, i), '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30:duration=30[out0];sine=frequency=440:sample_rate=48000:duration=30[out1]', ...argv.slice(j + 2)];
  };
  const runOnce = async (argv: string[]): Promise<number> => {
    const child = spawn(FFMPEG, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let tail = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (tail = (tail + d).slice(-4000)));
    const [code] = (await once(child, 'exit')) as [number | null];
    const m = /bench: utime=([\d.]+)s stime=([\d.]+)s/.exec(tail);
    if (code !== 0 || !m) throw new Error(`synthetic FFmpeg failed (${code}): ${tail}`);
    return Number(m[1]) + Number(m[2]);
  };
  const withS: number[] = [];
  const withoutS: number[] = [];
  for (let r = 0; r < runs; r++) {
    withoutS.push(await runOnce(argvOf(false)));
    withS.push(await runOnce(argvOf(true)));
  }
  return { withS, withoutS };
}

async function main(): Promise<void> {
  const receiver = await startDiscardReceiver();
  const pool = new UdpPortPool({ host: '127.0.0.1', min: 48000, max: 48999 });
  const browser = await launchChromium();
  const rows: string[][] = [];
  try {
    console.log(`bench:transcode — ${cpus().length} cores, ${WINDOW_S} s window after ${WARMUP_S} s warm-up, FFmpeg ${FFMPEG}, hosts: Chromium's fake camera`);
    for (const s of scenarios.filter((x) => !ONLY || x.name.includes(ONLY))) {
      const row = await runScenario(browser, s, receiver.port, pool);
      rows.push(row);
      console.log(`  done: ${row.join(' | ')}`);
    }
  } finally {
    await browser.close();
    await stop(receiver.child);
  }
  const header = ['scenario', 'video out', 'ours CPU-s/media-s', 'ours speed', 'plain CPU-s/media-s', 'plain speed', 'ratio ours/plain'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  console.log('\n' + line(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(r));
  const ladder = rows.find((r) => r[0] === SIMULCAST_BASE);
  const layers = rows.find((r) => r[0] === SIMULCAST);
  if (ladder && layers) {
    const ratio = (i: number) => (Number(layers[i]) / Number(ladder[i])).toFixed(3);
    console.log(`\nsimulcast / hd ladder, same host, same run: ours ${layers[2]} / ${ladder[2]} = ${ratio(2)}, plain FFmpeg ${layers[4]} / ${ladder[4]} = ${ratio(4)} (target ≤ 0.100)`);
  }
  const hd = rows.find((r) => r[0] === HD);
  const bare = rows.find((r) => r[0] === HD_NO_THUMBS);
  if (hd && bare) {
    const share = (i: number) => `${(((Number(hd[i]) - Number(bare[i])) / Number(bare[i])) * 100).toFixed(1)} %`;
    console.log(`\nthumbnails: (hd − hd without thumbnails) / hd without, same host, same run: ours ${hd[2]} vs ${bare[2]} = ${share(2)}, plain FFmpeg ${hd[4]} vs ${bare[4]} = ${share(4)} (target ≤ 5 %)`);
  }
  if (!ONLY || ONLY === 'thumbnails') {
    const receiverForThumbs = await startDiscardReceiver();
    try {
      const { withS, withoutS } = await thumbnailCost(receiverForThumbs.port);
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const w = median(withS);
      const wo = median(withoutS);
      console.log(
        `\nthumbnails, synthetic 720p30 through the hd plan (30 s of media, FFmpeg -benchmark CPU-s, ${withS.length} alternated runs): ` +
          `without ${withoutS.map((x) => x.toFixed(2)).join('/')}, with ${withS.map((x) => x.toFixed(2)).join('/')}; medians ${wo.toFixed(2)} → ${w.toFixed(2)} = ${(((w - wo) / wo) * 100).toFixed(1)} % (target ≤ 5 %)`,
      );
    } finally {
      await stop(receiverForThumbs.child);
    }
  }
  console.log('\nspeed: media-s per wall-s of a live input; below 1.00 the ladder falls behind. Chromium encodes the host on the same cores.');
}

await main();
