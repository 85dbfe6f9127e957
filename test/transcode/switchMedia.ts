/**
 * Real media for the switch's integration test: FFmpeg senders of a solid
 * colour as VP8/H.264 RTP, and an FFmpeg receiver that decodes the switch's
 * output from an SDP and reports every frame (colour, size, timestamp).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export type Codec = 'VP8' | 'H264';
export const PAYLOAD_TYPE = { VP8: 96, H264: 102 } as const;

/** Stops a child we started: SIGTERM, SIGKILL after 2 s. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(t);
}

export interface ColourSender {
  readonly pid: number;
  readonly exited: Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Sends `color` (with light noise, so frames span several packets) at `size`,
 * 30 fps, a keyframe every second, as RTP to `port` (its RTCP to port + 1).
 */
export function startColourSender(opts: { codec: Codec; color: string; size: string; port: number; ssrc: number }): ColourSender {
  const encoder =
    opts.codec === 'VP8'
      ? ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '400k', '-g', '30', '-keyint_min', '30', '-auto-alt-ref', '0', '-lag-in-frames', '0']
      : [
          '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-b:v', '400k',
          '-x264-params', 'keyint=30:min-keyint=30:scenecut=0',
          // SPS/PPS in band before every IDR, as browsers send them (the receiver gets no sprop-parameter-sets).
          '-bsf:v', 'dump_extra=freq=keyframe',
        ];
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    '-re', '-f', 'lavfi', '-i', `color=c=${opts.color}:size=${opts.size}:rate=30,noise=alls=10:allf=t`,
    ...encoder,
    '-payload_type', String(PAYLOAD_TYPE[opts.codec]), '-ssrc', String(opts.ssrc),
    '-f', 'rtp', `rtp://127.0.0.1:${opts.port}?pkt_size=1200`,
  ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  if (child.pid === undefined) throw new Error('sender FFmpeg did not start');
  return { pid: child.pid, exited: once(child, 'exit'), close: () => stop(child) };
}

/** The SDP the receiving FFmpeg reads: one video m-line at the switch's target port. */
export function switchOutputSdp(codec: Codec, port: number): string {
  const pt = PAYLOAD_TYPE[codec];
  return [
    'v=0',
    'o=- 0 0 IN IP4 127.0.0.1',
    's=stagecast rtp switch output',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=video ${port} RTP/AVP ${pt}`,
    codec === 'VP8' ? `a=rtpmap:${pt} VP8/90000` : `a=rtpmap:${pt} H264/90000`,
    ...(codec === 'H264' ? [`a=fmtp:${pt} packetization-mode=1`] : []),
    'a=recvonly',
    '',
  ].join('\r\n');
}

export interface DecodedFrame {
  /** Mean colour of the frame (scaled to 16×16 rgb24). */
  rgb: [number, number, number];
  colour: 'red' | 'blue' | 'other';
}

export interface FrameInfo {
  ptsTime: number;
  size: string;
  line: string;
}

const SIDE = 16;
const FRAME_BYTES = SIDE * SIDE * 3;

/**
 * FFmpeg decoding an SDP from stdin: `showinfo` (timestamp, coded size) on
 * stderr, then every frame scaled to 16×16 rgb24 on stdout. Frames pass
 * through as decoded (`-fps_mode passthrough`): no duplicates hide a gap.
 */
export class FrameDecoder {
  readonly frames: DecodedFrame[] = [];
  readonly infos: FrameInfo[] = [];
  /** stderr lines at error level (decoder errors, corrupt frames). */
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  readonly child: ChildProcess;
  #pending = Buffer.alloc(0);
  #waiters: { check: () => boolean; resolve: () => void }[] = [];
  #stopping = false;
  exitedEarly: string | undefined;

  constructor(sdp: string) {
    const args = [
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'level+info',
      '-protocol_whitelist', 'pipe,udp,rtp', '-f', 'sdp', '-i', 'pipe:0',
      '-map', '0:v', '-vf', `showinfo,scale=${SIDE}:${SIDE},format=rgb24`, '-fps_mode', 'passthrough',
      // Frames keep the input's 90 kHz timestamps: at a switch two frames may be
      // closer than 1/30 s (the cameras are not in phase), which a 1/30 time base would merge.
      '-enc_time_base:v', '-1',
      '-f', 'rawvideo', 'pipe:1',
    ];
    this.child = spawn('ffmpeg', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdin!.end(sdp);
    this.child.stdout!.on('data', (d: Buffer) => this.#onData(d));
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.#onLine(line));
    this.child.once('exit', (code, signal) => {
      if (!this.#stopping) this.exitedEarly = `exit ${code} ${signal}`;
      for (const w of this.#waiters) w.resolve();
      this.#waiters = [];
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  #onData(d: Buffer): void {
    this.#pending = Buffer.concat([this.#pending, d]);
    while (this.#pending.length >= FRAME_BYTES) {
      const f = this.#pending.subarray(0, FRAME_BYTES);
      this.#pending = this.#pending.subarray(FRAME_BYTES);
      let r = 0;
      let g = 0;
      let b = 0;
      for (let i = 0; i < FRAME_BYTES; i += 3) {
        r += f[i]!;
        g += f[i + 1]!;
        b += f[i + 2]!;
      }
      const n = SIDE * SIDE;
      const rgb: [number, number, number] = [Math.round(r / n), Math.round(g / n), Math.round(b / n)];
      const colour = rgb[0] > 170 && rgb[1] < 80 && rgb[2] < 80 ? 'red' : rgb[2] > 170 && rgb[0] < 80 && rgb[1] < 80 ? 'blue' : 'other';
      this.frames.push({ rgb, colour });
    }
    this.#wake();
  }

  #onLine(line: string): void {
    const info = /\[info\] n:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(\S+).*\bs:(\d+x\d+)/.exec(line);
    if (info) {
      this.infos.push({ ptsTime: Number(info[1]), size: info[2]!, line });
      return;
    }
    if (/\[(error|fatal|panic)\]/.test(line)) this.errors.push(line);
    else if (/\[warning\]/.test(line)) this.warnings.push(line);
  }

  #wake(): void {
    this.#waiters = this.#waiters.filter((w) => (w.check() ? (w.resolve(), false) : true));
  }

  /** Resolves when `check` holds after a decoded frame (or FFmpeg exited: the caller checks). */
  until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (check() || this.exitedEarly) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; frames: ${this.runs().join(' ')}; errors: ${this.errors.join('\n')}; warnings: ${this.warnings.slice(-5).join('\n')}`)), timeoutMs);
      this.#waiters.push({
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Frames of the colour at the end of the list (the current run). */
  trailing(colour: DecodedFrame['colour']): number {
    let n = 0;
    for (let i = this.frames.length - 1; i >= 0 && this.frames[i]!.colour === colour; i--) n++;
    return n;
  }

  /** The colours as runs, e.g. ["red×40", "blue×35"]. */
  runs(): string[] {
    const runs: string[] = [];
    let last: string | undefined;
    let n = 0;
    for (const f of this.frames) {
      if (f.colour === last) n++;
      else {
        if (last) runs.push(`${last}×${n}`);
        last = f.colour;
        n = 1;
      }
    }
    if (last) runs.push(`${last}×${n}`);
    return runs;
  }

  /** Stops FFmpeg and waits until its stdout and stderr are read to the end. */
  async close(): Promise<void> {
    this.#stopping = true;
    const closed = this.child.exitCode !== null || this.child.signalCode !== null ? Promise.resolve() : once(this.child, 'close');
    await stop(this.child);
    await closed;
  }
}
