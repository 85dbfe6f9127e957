import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import express from 'express';
import { silentLogger } from '../../common/index.ts';
import { CmafReader } from '../../packager/cmaf.ts';
import { type Broadcast, createIngestRouter, createOriginRouter, createPackager, type ObjectStore, type Packager, type PackagerConfigInput } from '../../packager/index.ts';

export const FRAGMENT_US = 200_000;

export interface Rendition {
  id: string;
  kind: 'video' | 'audio';
  width?: number;
  height?: number;
}

export const LADDER: Rendition[] = [
  { id: 'video-360p', kind: 'video', width: 640, height: 360 },
  { id: 'video-180p', kind: 'video', width: 320, height: 180 },
  { id: 'audio', kind: 'audio' },
];

const CMAF_FLAGS = ['-movflags', '+frag_keyframe+empty_moov+default_base_moof+cmaf', '-frag_duration', String(FRAGMENT_US), '-f', 'mp4'];

/** FFmpeg args: testsrc2 + sine, one CMAF output per rendition (keyframe every second, 200 ms fragments). */
export function ffmpegArgs(outputs: string[], seconds: number, ladder: Rendition[] = LADDER, extraOut: string[] = []): string[] {
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds)];
  ladder.forEach((r, i) => {
    if (r.kind === 'video') {
      args.push('-map', '0:v', '-s', `${r.width}x${r.height}`, '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-profile:v', 'baseline', '-b:v', r.height! > 200 ? '600k' : '200k', '-sc_threshold', '0', '-g', '30', '-force_key_frames', 'expr:gte(t,n_forced*1)');
    } else {
      args.push('-map', '1:a', '-c:a', 'aac', '-b:a', '64k', '-ar', '48000', '-ac', '2');
    }
    args.push('-t', String(seconds), ...CMAF_FLAGS, ...extraOut, outputs[i]!);
  });
  return args;
}

export interface FfmpegRun {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: () => string;
  stop(): Promise<void>;
}

export function runFfmpeg(args: string[], extraFds = 0): FfmpegRun {
  const stdio: ('ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe', ...Array<'pipe'>(extraFds).fill('pipe')];
  const child = spawn('ffmpeg', args, { stdio });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000); // bounded
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT'); // lets FFmpeg flush
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** Pushes the ladder into a broadcast in-process (pipe:3… → openTrack). */
export function pushInProcess(packager: Packager, broadcastId: string, seconds: number, ladder: Rendition[] = LADDER): FfmpegRun {
  const b = packager.getBroadcast(broadcastId) ?? packager.createBroadcast(broadcastId);
  const run = runFfmpeg(ffmpegArgs(ladder.map((_, i) => `pipe:${i + 3}`), seconds, ladder), ladder.length);
  ladder.forEach((r, i) => {
    const src = run.child.stdio[i + 3] as NodeJS.ReadableStream;
    src.pipe(b.openTrack(r.id));
  });
  return run;
}

export interface Harness {
  packager: Packager;
  base: string;
  server: http.Server;
  close(): Promise<void>;
}

export async function startHarness(config: PackagerConfigInput = {}, store?: ObjectStore, mount?: (app: express.Express) => void): Promise<Harness> {
  const logger = silentLogger();
  const packager = createPackager(config, { logger, ...(store ? { store } : {}) });
  const app = express();
  mount?.(app);
  app.use(createIngestRouter(packager, { logger }));
  app.use(createOriginRouter(packager, store, { logger }));
  const server = http.createServer({ keepAliveTimeout: 5000 }, app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    packager,
    base,
    server,
    async close() {
      await packager.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Resolves when `pred` holds after some broadcast event (the broadcast may not exist yet), or rejects after `ms`. */
export function until(packager: Packager, broadcastId: string, pred: () => boolean, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let b: Broadcast | undefined;
    const cleanup = () => {
      clearTimeout(t);
      b?.off('part', check);
      packager.off('newBroadcast', onNew);
    };
    const check = () => {
      if (pred()) {
        cleanup();
        resolve();
      }
    };
    const attach = () => {
      b = packager.getBroadcast(broadcastId);
      b?.on('part', check);
    };
    const onNew = (nb: Broadcast) => {
      if (nb.id === broadcastId && !b) attach();
    };
    const t = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    packager.on('newBroadcast', onNew);
    attach();
    check();
  });
}

export async function get(url: string, init?: RequestInit): Promise<{ status: number; text: string; headers: Headers; body: Buffer }> {
  const r = await fetch(url, init);
  const body = Buffer.from(await r.arrayBuffer());
  return { status: r.status, text: body.toString('utf8'), headers: r.headers, body };
}

/** CMAF of one rendition from FFmpeg, encoded faster than real time (no -re). */
export async function captureCmaf(seconds: number, rendition: Rendition): Promise<Buffer> {
  const run = runFfmpeg(ffmpegArgs(['pipe:1'], seconds, [rendition]).filter((a) => a !== '-re'));
  const chunks: Buffer[] = [];
  run.child.stdout!.on('data', (d: Buffer) => chunks.push(d));
  const code = await run.exited;
  if (code !== 0) throw new Error(`ffmpeg failed: ${run.stderr()}`);
  return Buffer.concat(chunks);
}

/** The init segment and fragments of a CMAF byte stream, as the packager's reader sees them. */
export function splitCmaf(stream: Buffer): { init: Buffer; fragments: { bytes: Buffer; decodeTime: number; keyframe: boolean; duration: number }[]; timescale: number } {
  const events = new CmafReader({ maxBoxBytes: 1 << 24 }).push(stream);
  const init = events.find((e) => e.type === 'init');
  if (!init || init.type !== 'init') throw new Error('no init segment');
  return {
    init: init.bytes,
    timescale: init.info.timescale,
    fragments: events.flatMap((e) => (e.type === 'fragment' ? [{ bytes: e.bytes, decodeTime: e.info.decodeTime, keyframe: e.info.keyframe, duration: e.info.duration }] : [])),
  };
}

/** A copy of a fragment (moof+mdat) with its tfdt baseMediaDecodeTime moved by `delta` ticks: a timestamp jump without a new init. */
export function shiftTfdt(fragment: Buffer, delta: number): Buffer {
  const out = Buffer.from(fragment);
  const find = (start: number, end: number, type: string): number => {
    for (let off = start; off + 8 <= end; off += out.readUInt32BE(off)) if (out.toString('latin1', off + 4, off + 8) === type) return off;
    throw new Error(`no ${type} box`);
  };
  const moof = find(0, out.length, 'moof');
  const traf = find(moof + 8, moof + out.readUInt32BE(moof), 'traf');
  const tfdt = find(traf + 8, traf + out.readUInt32BE(traf), 'tfdt');
  if (out[tfdt + 8] === 1) out.writeBigUInt64BE(out.readBigUInt64BE(tfdt + 12) + BigInt(delta), tfdt + 12);
  else out.writeUInt32BE(out.readUInt32BE(tfdt + 12) + delta, tfdt + 12);
  return out;
}

/** Writes chunks into a Writable, respecting backpressure, then ends it and waits for it to finish. */
export async function writeAll(w: Writable, chunks: Buffer[], end = true): Promise<void> {
  for (const c of chunks) if (!w.write(c)) await once(w, 'drain');
  if (end) {
    w.end();
    await finished(w);
  }
}
