// Synthetic CMAF for tests that must not start FFmpeg: an init segment (ftyp +
// moov with one avc1 or mp4a track and its trex) and fragments (moof + mdat)
// with the fields packager/cmaf.ts reads, so bytes written into a track go
// through the same reader, segmenter and playlists as FFmpeg's.
import type { Writable } from 'node:stream';
import type { InitInfo } from '../../packager/types.ts';
import { box, fullBox as versionedBox, u32 } from '../../packager/wvtt.ts';

const fullBox = (type: string, flags: number, ...payload: Buffer[]): Buffer => versionedBox(type, 0, flags, ...payload);

const u16 = (...values: number[]): Buffer => {
  const b = Buffer.alloc(2 * values.length);
  values.forEach((v, i) => b.writeUInt16BE(v, 2 * i));
  return b;
};

export interface SyntheticTrack {
  readonly kind: 'video' | 'audio';
  readonly timescale: number;
}

/** 640×360 H.264 baseline (avc1.42c01e) at 90 kHz. */
export const VIDEO: SyntheticTrack = { kind: 'video', timescale: 90_000 };
/** Stereo AAC-LC (mp4a.40.2) at 48 kHz. */
export const AUDIO: SyntheticTrack = { kind: 'audio', timescale: 48_000 };

/** The InitInfo packager/cmaf.ts reads from `initSegment(track)`. */
export function initInfo(track: SyntheticTrack): InitInfo {
  return track.kind === 'video'
    ? { kind: 'video', trackId: 1, timescale: track.timescale, codec: 'avc1.42c01e', width: 640, height: 360, defaultSampleDuration: 0, defaultSampleFlags: 0 }
    : { kind: 'audio', trackId: 1, timescale: track.timescale, codec: 'mp4a.40.2', sampleRate: 48_000, channels: 2, defaultSampleDuration: 0, defaultSampleFlags: 0 };
}

/** ftyp + moov: one track, fragmented (mvex/trex). */
export function initSegment(track: SyntheticTrack): Buffer {
  const video = track.kind === 'video';
  const tkhd = fullBox('tkhd', 3, u32(0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
  const mdhd = fullBox('mdhd', 0, u32(0, 0, track.timescale, 0), u16(0x55c4, 0));
  const hdlr = fullBox('hdlr', 0, u32(0), Buffer.from(video ? 'vide' : 'soun'), u32(0, 0, 0), Buffer.from('synthetic\0'));
  // VisualSampleEntry: 24 bytes, width, height, then 50 more to the children (78); AudioSampleEntry: channels at 16, rate (16.16) at 24, children at 28.
  const entry = video
    ? box('avc1', Buffer.alloc(24), u16(640, 360), Buffer.alloc(50), box('avcC', Buffer.from([1, 0x42, 0xc0, 0x1e, 0xff, 0xe0, 0x00])))
    : box('mp4a', Buffer.alloc(16), u16(2, 16, 0, 0), u32(48_000 << 16));
  const stbl = box('stbl', fullBox('stsd', 0, u32(1), entry), fullBox('stts', 0, u32(0)), fullBox('stsc', 0, u32(0)), fullBox('stsz', 0, u32(0, 0)), fullBox('stco', 0, u32(0)));
  const minf = box('minf', video ? fullBox('vmhd', 1, u32(0, 0)) : fullBox('smhd', 0, u32(0)), stbl);
  const trak = box('trak', tkhd, box('mdia', mdhd, hdlr, minf));
  const mvex = box('mvex', fullBox('trex', 0, u32(1, 1, 0, 0, 0)));
  return Buffer.concat([box('ftyp', Buffer.from('iso6'), u32(0), Buffer.from('iso6cmfc')), box('moov', fullBox('mvhd', 0, u32(0, 0, 1000, 0), Buffer.alloc(80)), trak, mvex)]);
}

const SYNC = 0x0200_0000;
const NON_SYNC = 0x0101_0000;

/**
 * One fragment (one part) of `samples` equal samples from `decodeTime` (track
 * ticks) lasting `duration` ticks in all; the first is a sync sample when
 * `keyframe` (audio: always). `seq` is the mfhd sequence number.
 */
export function fragment(track: SyntheticTrack, decodeTime: number, duration: number, keyframe: boolean, seq = 0, samples = 6): Buffer {
  const each = Math.floor(duration / samples);
  const durations = Array.from({ length: samples }, (_, i) => (i === samples - 1 ? duration - each * (samples - 1) : each));
  const flags = (i: number) => (track.kind === 'audio' || (i === 0 && keyframe) ? SYNC : NON_SYNC);
  const payload = Buffer.alloc(8 * samples, seq & 0xff);
  const trun = (dataOffset: number) =>
    fullBox('trun', 0x000701, u32(samples, dataOffset), ...durations.map((d, i) => u32(d, 8, flags(i))));
  const traf = (dataOffset: number) =>
    box('traf', fullBox('tfhd', 0x020000, u32(1)), versionedBox('tfdt', 1, 0, u32(Math.floor(decodeTime / 2 ** 32), decodeTime % 2 ** 32)), trun(dataOffset));
  const mfhd = fullBox('mfhd', 0, u32(seq));
  const moofSize = 8 + mfhd.length + traf(0).length;
  return Buffer.concat([box('moof', mfhd, traf(moofSize + 8)), box('mdat', payload)]);
}

/**
 * A run of parts as FFmpeg cuts them by default: `count` parts of `partMs`
 * from part `from` (media time from 0), a keyframe every `segmentMs` (video).
 */
export function fragments(track: SyntheticTrack, from: number, count: number, opts: { partMs?: number; segmentMs?: number; offsetTicks?: number } = {}): Buffer[] {
  const partMs = opts.partMs ?? 200;
  const perSegment = Math.round((opts.segmentMs ?? 1000) / partMs);
  const ticks = Math.round((partMs * track.timescale) / 1000);
  return Array.from({ length: count }, (_, i) => {
    const n = from + i;
    return fragment(track, (opts.offsetTicks ?? 0) + n * ticks, ticks, n % perSegment === 0, n);
  });
}

/** Writes one chunk into a track's Writable: resolves when it is taken, rejects with the error it caused. */
export function write(w: Writable, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => w.write(bytes, (err) => (err ? reject(err) : resolve())));
}
