/** A test publisher: a second FFmpeg sending VP8 or H.264 + Opus as RTP, and the RTP session that describes it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { DEFAULT_SLATE_IMAGE } from '../../app/config.ts';
import type { RtpSessionDescriptor } from '../../common/index.ts';
import type { ProgramInput } from '../../transcode/index.ts';

export type VideoCodec = 'VP8' | 'H264';

export interface SourceSpec {
  codec: VideoCodec;
  videoPort: number;
  audioPort: number;
  width?: number;
  height?: number;
  fps?: number;
  /** Keyframe interval in frames (default: one per second). */
  gopFrames?: number;
  /**
   * A clip made by `encodeClip` with the same codec: sent in a loop without re-encoding, as an
   * SFU forwards what a host encoded (a benchmark's source then costs almost no CPU).
   */
  clip?: string;
}

const VIDEO_PT = { VP8: 96, H264: 102 } as const;
const AUDIO_PT = 111;

/** The RTP session the transcoder receives (what `startRtpSource` sends), as ingest would describe it. */
export function makeRtpSession(spec: SourceSpec): RtpSessionDescriptor {
  return {
    address: '127.0.0.1',
    sessionName: 'stagecast test source',
    tracks: [
      {
        kind: 'video',
        port: spec.videoPort,
        payloadType: VIDEO_PT[spec.codec],
        mimeType: `video/${spec.codec}`,
        clockRate: 90000,
        parameters: spec.codec === 'H264' ? { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' } : {},
      },
      { kind: 'audio', port: spec.audioPort, payloadType: AUDIO_PT, mimeType: 'audio/opus', clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 } },
    ],
  };
}

/**
 * One host full frame with its audio, as LiveBroadcast composes a stage of one
 * host: what the product gives the transcoder for a session like `makeRtpSession`'s.
 */
export function programOf(rtp: RtpSessionDescriptor, source?: { width: number; height: number }): ProgramInput {
  return {
    rtp,
    compose: { videos: [{ cell: { x: 0, y: 0, width: 1, height: 1 }, ...(source ? { source } : {}) }], audios: 1, slateImage: DEFAULT_SLATE_IMAGE },
  };
}

export interface RtpSource {
  readonly pid: number;
  readonly process: ChildProcess;
  close(): Promise<void>;
}

function encoderArgs(spec: Omit<SourceSpec, 'videoPort' | 'audioPort' | 'clip'>): { inputs: string[]; video: string[]; audio: string[] } {
  const w = spec.width ?? 640;
  const h = spec.height ?? 360;
  const fps = spec.fps ?? 30;
  const gop = String(spec.gopFrames ?? fps);
  return {
    inputs: ['-f', 'lavfi', '-i', `testsrc2=size=${w}x${h}:rate=${fps}`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
    video:
      spec.codec === 'VP8'
        ? ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '800k', '-g', gop]
        : ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-b:v', '800k', '-g', gop],
    audio: ['-c:a', 'libopus', '-ac', '2', '-b:a', '64k'],
  };
}

/**
 * Encodes `seconds` of the test picture and tone into `file` (Matroska) for `startRtpSource`'s
 * `clip`: a whole number of GOPs, so the loop restarts on a keyframe.
 */
export async function encodeClip(spec: Omit<SourceSpec, 'videoPort' | 'audioPort' | 'clip'>, file: string, seconds = 10, ffmpegPath = '/usr/bin/ffmpeg'): Promise<void> {
  const { inputs, video, audio } = encoderArgs(spec);
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...inputs, '-t', String(seconds), '-map', '0:v', ...video, '-map', '1:a', ...audio, '-f', 'matroska', file];
  const child = spawn(ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`encoding the source clip failed (${code}): ${err.trim().slice(-500)}`);
}

/** Starts sending real-time test video (1 s GOP) and a sine tone, encoded live or looped from `spec.clip`. */
export function startRtpSource(spec: SourceSpec, ffmpegPath = '/usr/bin/ffmpeg'): RtpSource {
  const live = encoderArgs(spec);
  const [inputs, video, audio, audioInput] = spec.clip
    ? [['-re', '-stream_loop', '-1', '-i', spec.clip], ['-c:v', 'copy'], ['-c:a', 'copy'], '0:a']
    : [['-re', ...live.inputs.slice(0, 4), '-re', ...live.inputs.slice(4)], live.video, live.audio, '1:a'];
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    ...inputs,
    '-map', '0:v', ...video, '-payload_type', String(VIDEO_PT[spec.codec]), '-ssrc', '1111',
    '-f', 'rtp', `rtp://127.0.0.1:${spec.videoPort}?pkt_size=1200`,
    '-map', audioInput, ...audio, '-payload_type', String(AUDIO_PT), '-ssrc', '2222',
    '-f', 'rtp', `rtp://127.0.0.1:${spec.audioPort}?pkt_size=1200`,
  ];
  const child = spawn(ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  if (child.pid === undefined) throw new Error('RTP source FFmpeg did not start');
  const pid = child.pid;
  return {
    pid,
    process: child,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Whether a PID is alive (signal 0). */
export function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
