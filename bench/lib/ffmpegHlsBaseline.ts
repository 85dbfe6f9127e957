/**
 * The baseline of bench/latency.ts: the pipeline most mediasoup + FFmpeg projects
 * use. A second plain-RTP output of the same stage feeds a plain `ffmpeg` (not
 * our supervised transcoder) with the same input options and the same libx264 /
 * AAC settings as our top rung, written by FFmpeg's own `hls` muxer (2 s
 * segments, 6 in the playlist) into a temporary directory that a loopback
 * express server serves as static files, next to a page playing it with hls.js
 * defaults (`new Hls()`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { setTimeout as delay } from 'node:timers/promises';
import express from 'express';
import { isUdpPortBound, UdpPortPool, type RtpSessionDescriptor } from '../../common/index.ts';
import type { RtpOutput, Stage } from '../../ingest/index.ts';
import { chooseLayout, ffmpegSdp, planProgram, rtpInputOptions, type ProgramInput, type TranscodeConfig } from '../../transcode/index.ts';

export interface Baseline {
  /** The page playing the baseline with hls.js defaults. */
  readonly pageUrl: string;
  readonly argv: readonly string[];
  close(): Promise<void>;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>baseline</title>
<video id="video" muted autoplay playsinline style="width:640px"></video>
<script src="hls.min.js"></script>
<script>const hls = new Hls(); hls.loadSource('hls/index.m3u8'); hls.attachMedia(document.getElementById('video'));</script>`;

/** Everything of `options` before the container options (`-f …`): the codec settings only. */
function codecOptions(options: readonly string[]): string[] {
  const end = options.indexOf('-f');
  return options.slice(0, end < 0 ? options.length : end).filter((_, i, a) => a[i] !== '-map' && a[i - 1] !== '-map');
}

/**
 * FFmpeg argv for the baseline: our input options and top-rung/audio encoder
 * settings as the product plans them for this one host, `hls` muxer output.
 */
export function baselineArgs(config: TranscodeConfig, rtp: RtpSessionDescriptor, source: { width: number; height: number } | undefined, audios: number, dir: string): string[] {
  const program: ProgramInput = { rtp, compose: { videos: [{ cell: { x: 0, y: 0, width: 1, height: 1 }, ...(source ? { source } : {}) }], audios, slateImage: '' } };
  const plan = planProgram(config, chooseLayout(config, program), program, { targetFor: () => 'unused' }, rtpInputOptions(config));
  const video = plan.outputs.find((o) => o.track.kind === 'video');
  const audio = plan.outputs.find((o) => o.track.kind === 'audio');
  if (!video || plan.mode !== 'ladder') throw new Error('the baseline needs a re-encoded video rung');
  return [
    '-hide_banner', '-loglevel', 'warning', '-nostats',
    ...plan.inputOptions, '-i', 'pipe:0',
    '-map', '0:v:0', '-vf', `fps=${config.fps},scale=-2:min(${video.track.height}\\,ih)`,
    ...codecOptions(video.options),
    ...(audio ? ['-map', '0:a:0', '-af', 'aresample=async=1', ...codecOptions(audio.options)] : []),
    '-f', 'hls', '-hls_time', '2', '-hls_list_size', '6', '-hls_flags', 'delete_segments',
    '-hls_segment_filename', join(dir, 'seg%05d.ts'),
    join(dir, 'index.m3u8'),
  ];
}

export async function startBaseline(opts: {
  stage: Stage;
  config: TranscodeConfig;
  ffmpegPath: string;
  ports: { min: number; max: number };
}): Promise<Baseline> {
  const dir = mkdtempSync(join(tmpdir(), 'stagecast-baseline-'));
  const video = opts.stage.producers.find((p) => p.kind === 'video');
  const audio = opts.stage.producers.find((p) => p.kind === 'audio');
  if (!video) throw new Error('no video producer on the stage');
  let output: RtpOutput | undefined;
  let child: ChildProcess | undefined;
  let server: Server | undefined;
  let stderr = '';
  const close = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), delay(3000).then(() => false)]);
      if (!done) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    output?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server?.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const portPool = new UdpPortPool({ host: '127.0.0.1', ...opts.ports });
    output = await opts.stage.createRtpOutput({ producerIds: [video.id, ...(audio ? [audio.id] : [])], remoteIp: '127.0.0.1', portPool });
    const argv = baselineArgs(opts.config, output.descriptor, video.source, audio ? 1 : 0, dir);
    child = spawn(opts.ffmpegPath, argv, { stdio: ['pipe', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.stdin!.end(ffmpegSdp(output.descriptor));
    // The consumers start paused: media flows once FFmpeg holds every RTP port.
    const deadline = Date.now() + 15_000;
    for (const t of output.tracks) {
      while (!(await isUdpPortBound('127.0.0.1', t.ports.rtp))) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`baseline ffmpeg never listened: ${stderr}`);
        await delay(50);
      }
    }
    await output.resume();

    const require = createRequire(import.meta.url);
    const hlsJs = readFileSync(require.resolve('hls.js/dist/hls.min.js'));
    const app = express();
    app.get('/', (_req, res) => void res.type('html').send(PAGE));
    app.get('/hls.min.js', (_req, res) => void res.type('application/javascript').send(hlsJs));
    app.use('/hls', express.static(dir, { cacheControl: false, etag: false, lastModified: false }));
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;

    // hls.js starts 3 target durations behind the live edge: wait until the
    // playlist has that much (keyframes asked for until FFmpeg writes segments).
    for (;;) {
      if (child.exitCode !== null) throw new Error(`baseline ffmpeg exited ${child.exitCode}: ${stderr}`);
      if (Date.now() > deadline + 30_000) throw new Error(`baseline playlist never filled: ${stderr}`);
      const playlist = await fetch(`http://127.0.0.1:${port}/hls/index.m3u8`).then((r) => (r.ok ? r.text() : ''));
      if ((playlist.match(/#EXTINF/g) ?? []).length >= 4) break;
      if (!playlist) await output.requestKeyFrame();
      await delay(500);
    }
    return { pageUrl: `http://127.0.0.1:${port}/`, argv, close };
  } catch (err) {
    await close();
    throw err;
  }
}
