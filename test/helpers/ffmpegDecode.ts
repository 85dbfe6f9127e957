import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { isUdpPortBound } from '../../common/index.ts';

export interface DecodedSpan {
  /** Decoded frames per output stream index. */
  frames: number[];
  /** Seconds between the first and last decoded frame, per stream. */
  seconds: number[];
  mediaTypes: string[];
  dimensions: string[];
}

/**
 * Runs FFmpeg on an SDP (given on stdin: no temporary file) and decodes every
 * stream to `framecrc`, until each stream has `seconds` of decoded media.
 * `onSpawn` is called once FFmpeg's process is up, so the caller can wait for
 * its ports to be bound and then start the RTP.
 */
export function decodeFromSdp(
  sdp: string,
  opts: { seconds: number; timeoutMs: number; streams: number; onSpawn?: (pid: number) => void },
): Promise<DecodedSpan> {
  const args = ['-hide_banner', '-loglevel', 'error', '-protocol_whitelist', 'pipe,udp,rtp', '-f', 'sdp', '-i', 'pipe:0'];
  for (let i = 0; i < opts.streams; i++) args.push('-map', `0:${i}`);
  args.push('-f', 'framecrc', 'pipe:1');
  const child = spawn('ffmpeg', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(sdp);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  if (child.pid) opts.onSpawn?.(child.pid);

  const tb: number[] = [];
  const first: (number | undefined)[] = [];
  const last: number[] = [];
  const frames: number[] = [];
  const mediaTypes: string[] = [];
  const dimensions: string[] = [];
  return new Promise<DecodedSpan>((resolve, reject) => {
    const result = (): DecodedSpan => ({
      frames: [...frames],
      seconds: last.map((l, i) => (l - (first[i] ?? l)) * (tb[i] ?? 0)),
      mediaTypes,
      dimensions,
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`FFmpeg did not decode ${opts.seconds}s of every stream in time: ${JSON.stringify(result())}\n${stderr}`));
    }, opts.timeoutMs);
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      const header = /^#(tb|media_type|dimensions) (\d+): (.+)$/.exec(line);
      if (header) {
        const i = Number(header[2]);
        if (header[1] === 'tb') {
          const [n, d] = header[3]!.split('/').map(Number);
          tb[i] = n! / d!;
        } else if (header[1] === 'media_type') mediaTypes[i] = header[3]!;
        else dimensions[i] = header[3]!;
        return;
      }
      const m = /^(\d+),\s*(-?\d+),/.exec(line);
      if (!m) return;
      const i = Number(m[1]);
      const pts = Number(m[2]);
      frames[i] = (frames[i] ?? 0) + 1;
      if (first[i] === undefined) first[i] = pts;
      last[i] = pts;
      const span = result();
      if (span.seconds.length === opts.streams && span.seconds.every((s) => s >= opts.seconds)) {
        clearTimeout(timer);
        child.kill('SIGTERM');
        resolve(span);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === null) reject(new Error(`FFmpeg exited with ${code} before decoding enough: ${stderr}`));
    });
  });
}

/** FFmpeg binds its RTP ports some time after it starts; nothing signals it, so poll with a deadline. */
export async function waitForBound(ports: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const bound = await Promise.all(ports.map((p) => isUdpPortBound('127.0.0.1', p)));
    if (bound.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`FFmpeg did not bind ports ${ports.join(', ')} in time`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
