/**
 * npm run bench:transcode [-- --seconds 10] [--only <scenario substring>]
 *
 * For each preset ladder and for passthrough: CPU-seconds per media-second and
 * speed (media-s per wall-s; the input is live RTP, so 1.00 means it keeps up)
 * of our supervised transcoder, next to a plain `ffmpeg` run with the identical
 * argv (same SDP, same encoder settings, same HTTP push) in the same benchmark.
 * Ratio = ours / plain, i.e. the wrapper's overhead (FFmpeg's CPU plus this Node
 * process's CPU for ours). The RTP source is a pre-encoded clip sent with
 * `-c copy` (next to no CPU), the CMAF receiver a separate process that discards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { UdpPortPool, silentLogger } from '../common/index.ts';
import { createTranscoder, ffmpegArgs, httpCmafSink, parseSdp, parseTranscodeConfig, planFfmpeg, type TranscodeConfigInput } from '../transcode/index.ts';
import { makeSdp, type VideoCodec } from '../test/transcode/rtpSource.ts';
import { procCpuSeconds } from './lib/procStats.ts';

const FFMPEG = '/usr/bin/ffmpeg';
const argSeconds = process.argv.indexOf('--seconds');
const WINDOW_S = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 10;
const argOnly = process.argv.indexOf('--only');
const ONLY = argOnly > 0 ? process.argv[argOnly + 1] : undefined;
const WARMUP_S = 3;

interface Scenario {
  name: string;
  codec: VideoCodec;
  height: 720 | 1080;
  config: TranscodeConfigInput;
}

const scenarios: Scenario[] = [
  { name: 'hd 720p+360p veryfast (default)', codec: 'VP8', height: 720, config: {} },
  { name: 'sd 360p veryfast', codec: 'VP8', height: 720, config: { ladder: 'sd' } },
  { name: 'fullhd 1080p+720p+360p veryfast', codec: 'VP8', height: 1080, config: { ladder: 'fullhd' } },
  { name: 'fullhd 1080p+720p+360p ultrafast', codec: 'VP8', height: 1080, config: { ladder: 'fullhd', x264Preset: 'ultrafast' } },
  { name: 'passthrough H.264 720p (+AAC)', codec: 'H264', height: 720, config: { mode: 'passthrough' } },
];

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

/** A 6 s clip with a 1 s GOP, as a publisher would send it. */
async function makeClip(dir: string, codec: VideoCodec, height: number): Promise<string> {
  const file = join(dir, `clip-${codec}-${height}.mkv`);
  const width = (height * 16) / 9;
  const video =
    codec === 'VP8'
      ? ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', height > 720 ? '3M' : '1.5M', '-g', '30']
      : ['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-b:v', '1.5M', '-g', '30', '-bf', '0'];
  await run(FFMPEG, [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=30:duration=6`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=6',
    ...video, '-c:a', 'libopus', '-b:a', '64k', '-ac', '2', file,
  ]);
  return file;
}

/** Sends the clip in a loop, in real time, as RTP (stream copy). */
function sendRtp(clip: string, codec: VideoCodec, videoPort: number, audioPort: number): ChildProcess {
  const pt = codec === 'VP8' ? '96' : '102';
  return spawn(FFMPEG, [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-re', '-stream_loop', '-1', '-i', clip,
    '-map', '0:v', '-c:v', 'copy', ...(codec === 'H264' ? ['-bsf:v', 'h264_mp4toannexb'] : []),
    '-payload_type', pt, '-ssrc', '1111', '-f', 'rtp', `rtp://127.0.0.1:${videoPort}?pkt_size=1200`,
    '-map', '0:a', '-c:a', 'copy', '-payload_type', '111', '-ssrc', '2222', '-f', 'rtp', `rtp://127.0.0.1:${audioPort}?pkt_size=1200`,
  ], { stdio: ['ignore', 'ignore', 'ignore'] });
}

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

/** Our transcoder: FFmpeg's CPU (+ standby) plus this process's CPU over the window. */
async function measureOurs(s: Scenario, sdp: string, base: string): Promise<Result> {
  const config = parseTranscodeConfig({ ...s.config, supervision: { startTimeoutMs: 20_000 } });
  const t = createTranscoder({ config, sdp, sink: httpCmafSink(base), logger: silentLogger(), sourceHeight: s.height, id: 'bench' });
  const pids: number[] = [];
  t.on('spawn', ({ pid }) => pids.push(pid));
  let mediaS = 0;
  t.on('progress', (p) => (mediaS = (p.outTimeMs ?? 0) / 1000));
  await t.start();
  try {
    await delay(WARMUP_S * 1000);
    const sample = (): Sample => ({
      cpu: pids.reduce((sum, pid) => sum + procCpuSeconds(pid), 0) + selfCpuSeconds(),
      media: mediaS,
      wall: performance.now() / 1000,
    });
    const a = sample();
    await delay(WINDOW_S * 1000);
    return result(a, sample());
  } finally {
    await t.close();
  }
}

/** Plain FFmpeg with the identical argv, the SDP on stdin, nothing around it but a spawn. */
async function measurePlain(s: Scenario, sdp: string, base: string): Promise<Result> {
  const config = parseTranscodeConfig(s.config);
  const argv = ffmpegArgs(planFfmpeg(config, parseSdp(sdp), { targetFor: (id) => `${base}/${id}`, sourceHeight: s.height }));
  const child = spawn(FFMPEG, argv, { stdio: ['pipe', 'ignore', 'pipe'] });
  child.stdin!.end(sdp);
  let mediaS = 0;
  let tail = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    tail = (tail + d).slice(-4000);
    const all = [...tail.matchAll(/time=(\d+):(\d+):([\d.]+)/g)].at(-1);
    if (all) mediaS = Number(all[1]) * 3600 + Number(all[2]) * 60 + Number(all[3]);
  });
  try {
    const deadline = Date.now() + 20_000;
    while (mediaS === 0) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`plain ffmpeg did not start: ${tail}`);
      await delay(50);
    }
    await delay(WARMUP_S * 1000);
    const sample = (): Sample => ({ cpu: procCpuSeconds(child.pid!), media: mediaS, wall: performance.now() / 1000 });
    const a = sample();
    await delay(WINDOW_S * 1000);
    return result(a, sample());
  } finally {
    await stop(child);
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stagecast-bench-transcode-'));
  const pool = new UdpPortPool({ host: '127.0.0.1', min: 48000, max: 48999 });
  const receiver = await startDiscardReceiver();
  const base = `http://127.0.0.1:${receiver.port}/ingest/bench`;
  const rows: string[][] = [];
  try {
    console.log(`bench:transcode — ${cpus().length} cores, ${WINDOW_S} s window after ${WARMUP_S} s warm-up, FFmpeg ${FFMPEG}`);
    const clips = new Map<string, string>();
    for (const s of scenarios.filter((x) => !ONLY || x.name.includes(ONLY))) {
      const key = `${s.codec}-${s.height}`;
      if (!clips.has(key)) clips.set(key, await makeClip(dir, s.codec, s.height));
      const clip = clips.get(key)!;
      const measured: Partial<Record<'ours' | 'plain', Result>> = {};
      for (const which of (process.argv.includes('--plain-first') ? ['plain', 'ours'] : ['ours', 'plain']) as ('ours' | 'plain')[]) {
        const v = await pool.allocate();
        const a = await pool.allocate();
        const sdp = makeSdp({ codec: s.codec, videoPort: v.rtp, audioPort: a.rtp });
        const sender = sendRtp(clip, s.codec, v.rtp, a.rtp);
        try {
          measured[which] = which === 'ours' ? await measureOurs(s, sdp, base) : await measurePlain(s, sdp, base);
        } finally {
          await stop(sender);
          pool.release(v);
          pool.release(a);
        }
      }
      const { ours, plain } = measured as Record<'ours' | 'plain', Result>;
      const row = [
        s.name,
        ours.cpuPerMediaS.toFixed(2),
        ours.speed.toFixed(2),
        plain.cpuPerMediaS.toFixed(2),
        plain.speed.toFixed(2),
        (ours.cpuPerMediaS / plain.cpuPerMediaS).toFixed(3),
      ];
      rows.push(row);
      console.log(`  done: ${row.join(' | ')}`);
    }
  } finally {
    await stop(receiver.child);
    rmSync(dir, { recursive: true, force: true });
  }
  const header = ['scenario (source)', 'ours CPU-s/media-s', 'ours speed', 'plain CPU-s/media-s', 'plain speed', 'ratio ours/plain'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  console.log('\n' + line(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(r));
  console.log('\nspeed: media-s per wall-s of a live (real-time) RTP input; below 1.00 the ladder falls behind.');
}

await main();
