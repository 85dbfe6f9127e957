/**
 * WebVTT in ISO BMFF (ISO/IEC 14496-30, CMAF `cwvt`): the init segment and
 * media segments of the DASH subtitle representation. Pure: cues and a time
 * range in, bytes out.
 *
 * A segment's samples tile its range: one sample per stretch in which the same
 * cues show, each a `vttc` box per cue (`iden` its id, `payl` its text), or an
 * empty `vtte` where none does. dash.js and Shaka read this form.
 */
import { cuePayload, cuesIn, type Cue } from './captions.ts';

/** ISO BMFF box writers (the tests' synthetic CMAF uses them too). */
export function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
}

export function fullBox(type: string, version: number, flags: number, ...payload: Buffer[]): Buffer {
  const vf = Buffer.alloc(4);
  vf.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), 0);
  return box(type, vf, ...payload);
}

export function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
}

/** wvtt runs on a ms timescale (one init segment then serves every source); media times convert by this one rounding, in segments and in the MPD alike. */
export const WVTT_TIMESCALE = 1000;
export function wvttTicks(ticks: number, timescale: number): number {
  return Math.round((ticks * WVTT_TIMESCALE) / timescale);
}

const MATRIX = u32(0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000);
const TRACK_ID = 1;

/** The init segment: one `text` track with a `wvtt` sample entry, for fragments (mvex). */
export function wvttInit(timescale: number, language = 'und'): Buffer {
  const lang = language.length === 3 && /^[a-z]{3}$/.test(language) ? language : 'und';
  const packedLang = ((lang.charCodeAt(0) - 0x60) << 10) | ((lang.charCodeAt(1) - 0x60) << 5) | (lang.charCodeAt(2) - 0x60);
  const ftyp = box('ftyp', Buffer.from('iso6'), u32(0), Buffer.from('iso6cmfccwvtdash'));
  const mvhd = fullBox('mvhd', 0, 0, u32(0, 0, timescale, 0, 0x00010000), Buffer.from([0x01, 0x00, 0, 0]), u32(0, 0), MATRIX, u32(0, 0, 0, 0, 0, 0), u32(TRACK_ID + 1));
  const tkhd = fullBox('tkhd', 0, 3, u32(0, 0, TRACK_ID, 0, 0, 0, 0), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]), MATRIX, u32(0, 0));
  const mdhd = fullBox('mdhd', 0, 0, u32(0, 0, timescale, 0), Buffer.from([packedLang >> 8, packedLang & 0xff, 0, 0]));
  const hdlr = fullBox('hdlr', 0, 0, u32(0), Buffer.from('text'), u32(0, 0, 0), Buffer.from('captions\0'));
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)));
  const sampleEntry = box('wvtt', Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]), box('vttC', Buffer.from('WEBVTT')));
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), sampleEntry),
    fullBox('stts', 0, 0, u32(0)),
    fullBox('stsc', 0, 0, u32(0)),
    fullBox('stsz', 0, 0, u32(0, 0)),
    fullBox('stco', 0, 0, u32(0)),
  );
  const minf = box('minf', fullBox('nmhd', 0, 0), dinf, stbl);
  const mvex = box('mvex', fullBox('trex', 0, 0, u32(TRACK_ID, 1, 0, 0, 0)));
  return Buffer.concat([ftyp, box('moov', mvhd, box('trak', tkhd, box('mdia', mdhd, hdlr, minf)), mvex)]);
}

/** Where a segment sits: its media start and duration (track timescale) and the wall clock of its start. */
export interface WvttSegmentRange {
  readonly sequence: number;
  readonly start: number;
  readonly duration: number;
  readonly timescale: number;
  readonly wallMs: number;
}

/** One media segment (moof + mdat) covering the range with the cues that show in it. */
export function wvttSegment(cues: readonly Cue[], range: WvttSegmentRange): Buffer {
  const { start, duration, timescale, wallMs } = range;
  const endWall = wallMs + (duration / timescale) * 1000;
  const shown = cuesIn(cues, wallMs, endWall);
  const tick = (ms: number) => Math.min(duration, Math.max(0, Math.round(((ms - wallMs) / 1000) * timescale)));
  // Sample boundaries: the range's ends and every cue start and end inside it.
  const cuts = [...new Set([0, duration, ...shown.flatMap((c) => [tick(c.start), tick(c.end)])])].sort((a, b) => a - b);
  const samples: { duration: number; bytes: Buffer }[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const from = cuts[i]!;
    const to = cuts[i + 1]!;
    const on = shown.filter((c) => tick(c.start) <= from && tick(c.end) >= to);
    const bytes = on.length === 0 ? box('vtte') : Buffer.concat(on.map((c) => box('vttc', box('iden', Buffer.from(c.id)), box('payl', Buffer.from(cuePayload(c))))));
    samples.push({ duration: to - from, bytes });
  }
  const mfhd = fullBox('mfhd', 0, 0, u32(range.sequence));
  const tfhd = fullBox('tfhd', 0, 0x020000, u32(TRACK_ID));
  const tfdt = fullBox('tfdt', 1, 0, u32(Math.floor(start / 2 ** 32), start % 2 ** 32));
  const trunFor = (dataOffset: number) =>
    fullBox('trun', 0, 0x000301, u32(samples.length, dataOffset), ...samples.map((s) => u32(s.duration, s.bytes.length)));
  // The data offset counts from the moof's start to the first sample (past the mdat header).
  const moofSize = 8 + mfhd.length + 8 + tfhd.length + tfdt.length + trunFor(0).length;
  const moof = box('moof', mfhd, box('traf', tfhd, tfdt, trunFor(moofSize + 8)));
  return Buffer.concat([moof, box('mdat', ...samples.map((s) => s.bytes))]);
}
