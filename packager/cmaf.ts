import { InputError } from '../common/index.ts';
import { ByteQueue } from './byteQueue.ts';

/**
 * CMAF box reader: pure parsing of fragmented MP4 (no I/O). `CmafReader` takes
 * bytes in any chunking and hands back whole init segments and fragments.
 */

export type TrackKind = 'video' | 'audio';

/** What an init segment (ftyp + moov) says about its single track. */
export interface InitInfo {
  readonly kind: TrackKind;
  readonly trackId: number;
  readonly timescale: number;
  /** RFC 6381 codec string: avc1.64001f, mp4a.40.2, opus, … */
  readonly codec: string;
  readonly width?: number;
  readonly height?: number;
  readonly sampleRate?: number;
  readonly channels?: number;
  /** trex defaults, used when tfhd/trun leave a field out. */
  readonly defaultSampleDuration: number;
  readonly defaultSampleFlags: number;
}

/** One moof + mdat (and the styp/prft/emsg boxes before it). */
export interface FragmentInfo {
  readonly sequenceNumber: number;
  /** tfdt baseMediaDecodeTime, track timescale. */
  readonly decodeTime: number;
  /** Sum of sample durations, track timescale. */
  readonly duration: number;
  readonly sampleCount: number;
  /** First sample is a sync sample. */
  readonly keyframe: boolean;
  /** Duration of the first sample (used to estimate frame rate). */
  readonly firstSampleDuration: number;
}

export type CmafEvent =
  | { type: 'init'; info: InitInfo; bytes: Buffer }
  | { type: 'fragment'; info: FragmentInfo; bytes: Buffer };

const SAMPLE_IS_NON_SYNC = 0x0001_0000;
const TOP_LEVEL = new Set(['ftyp', 'moov', 'moof', 'mdat', 'styp', 'prft', 'emsg', 'sidx', 'free', 'skip', 'mfra', 'meta', 'uuid']);

export interface Box {
  readonly type: string;
  /** Payload (after the header). */
  readonly data: Buffer;
}

/** Reads the boxes directly inside `buf` (no recursion). Throws InputError on a malformed box. */
export function readBoxes(buf: Buffer): Box[] {
  const boxes: Box[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    let size = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    let header = 8;
    if (size === 1) {
      if (off + 16 > buf.length) throw new InputError('cmaf-truncated', `truncated large box header (${type})`);
      size = Number(buf.readBigUInt64BE(off + 8));
      header = 16;
    } else if (size === 0) {
      size = buf.length - off;
    }
    if (size < header || off + size > buf.length) throw new InputError('cmaf-truncated', `box ${JSON.stringify(type)} claims ${size} bytes, ${buf.length - off} left`);
    boxes.push({ type, data: buf.subarray(off + header, off + size) });
    off += size;
  }
  return boxes;
}

function child(parent: Buffer, type: string): Buffer | undefined {
  return readBoxes(parent).find((b) => b.type === type)?.data;
}

function path(parent: Buffer, ...types: string[]): Buffer | undefined {
  let cur: Buffer | undefined = parent;
  for (const t of types) {
    if (!cur) return undefined;
    cur = child(cur, t);
  }
  return cur;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Parses an init segment's moov payload. */
export function parseMoov(moov: Buffer): InitInfo {
  return boundsChecked('cmaf-bad-init', 'init segment', () => parseMoovUnchecked(moov));
}

/**
 * Runs a parser whose fixed-offset reads may run past a box that is shorter
 * than it claims to be: Node's RangeError then becomes our InputError, so bad
 * input is always reported as bad input (found by test/fuzz/cmaf.fuzz.test.ts).
 */
function boundsChecked<T>(code: string, what: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof RangeError) throw new InputError(code, `${what} has a box too short for its fields (${err.message})`);
    throw err;
  }
}

/** Samples one fragment may claim: far above any real 0.2–2 s fragment, low enough that walking them is instant. */
const MAX_SAMPLES_PER_FRAGMENT = 100_000;

function parseMoovUnchecked(moov: Buffer): InitInfo {
  const trak = child(moov, 'trak');
  if (!trak) throw new InputError('cmaf-no-track', 'init segment has no trak box');
  const tkhd = child(trak, 'tkhd');
  const mdhd = path(trak, 'mdia', 'mdhd');
  const hdlr = path(trak, 'mdia', 'hdlr');
  const stsd = path(trak, 'mdia', 'minf', 'stbl', 'stsd');
  if (!tkhd || !mdhd || !hdlr || !stsd) throw new InputError('cmaf-bad-init', 'init segment lacks tkhd/mdhd/hdlr/stsd');
  const tkhdV1 = tkhd[0] === 1;
  const trackId = tkhd.readUInt32BE(tkhdV1 ? 20 : 12);
  const timescale = mdhd[0] === 1 ? mdhd.readUInt32BE(20) : mdhd.readUInt32BE(12);
  if (!timescale) throw new InputError('cmaf-bad-init', 'timescale is 0');
  const handler = hdlr.toString('latin1', 8, 12);
  if (handler !== 'vide' && handler !== 'soun') throw new InputError('cmaf-unsupported', `unsupported handler ${JSON.stringify(handler)}`);
  const kind: TrackKind = handler === 'vide' ? 'video' : 'audio';
  // stsd: version/flags(4) entry_count(4) then sample entries as boxes.
  const entry = readBoxes(stsd.subarray(8))[0];
  if (!entry) throw new InputError('cmaf-bad-init', 'stsd has no sample entry');
  let codec: string;
  let width: number | undefined;
  let height: number | undefined;
  let sampleRate: number | undefined;
  let channels: number | undefined;
  if (kind === 'video') {
    // VisualSampleEntry: 6 reserved + 2 dref idx + 16 predefined/reserved, width, height at 24/26; children after 78 bytes.
    width = entry.data.readUInt16BE(24);
    height = entry.data.readUInt16BE(26);
    const kids = readBoxes(entry.data.subarray(78));
    if (entry.type === 'avc1' || entry.type === 'avc3') {
      const avcC = kids.find((b) => b.type === 'avcC')?.data;
      if (!avcC || avcC.length < 4) throw new InputError('cmaf-bad-init', 'avc1 without avcC');
      codec = `${entry.type}.${hex2(avcC[1]!)}${hex2(avcC[2]!)}${hex2(avcC[3]!)}`;
    } else {
      codec = entry.type;
    }
  } else {
    // AudioSampleEntry: 6 reserved + 2 dref + 8 reserved, channelcount(2) samplesize(2) 4 reserved samplerate(16.16) at 24; children after 28.
    channels = entry.data.readUInt16BE(16);
    sampleRate = entry.data.readUInt32BE(24) >>> 16;
    const kids = readBoxes(entry.data.subarray(28));
    if (entry.type === 'mp4a') {
      const esds = kids.find((b) => b.type === 'esds')?.data;
      codec = esds ? mp4aCodec(esds) : 'mp4a.40.2';
    } else if (entry.type === 'Opus') {
      codec = 'opus';
    } else {
      codec = entry.type;
    }
  }
  const trex = path(moov, 'mvex', 'trex');
  return {
    kind,
    trackId,
    timescale,
    codec,
    ...(width !== undefined ? { width, height } : {}),
    ...(sampleRate !== undefined ? { sampleRate, channels } : {}),
    defaultSampleDuration: trex ? trex.readUInt32BE(12) : 0,
    defaultSampleFlags: trex ? trex.readUInt32BE(20) : 0,
  };
}

/** mp4a.OO.A from an esds box: objectTypeIndication and the AudioSpecificConfig's object type. */
function mp4aCodec(esds: Buffer): string {
  // Walk descriptors: tag(1) + size (1–4 bytes, 7 bits each).
  let off = 4;
  let oti = 0x40;
  let aot = 2;
  const readLen = (): number => {
    let len = 0;
    for (let i = 0; i < 4 && off < esds.length; i++) {
      const b = esds[off++]!;
      len = (len << 7) | (b & 0x7f);
      if (!(b & 0x80)) break;
    }
    return len;
  };
  while (off < esds.length) {
    const tag = esds[off++]!;
    const len = readLen();
    if (tag === 0x03) {
      const flags = esds[off + 2] ?? 0;
      off += 3;
      if (flags & 0x80) off += 2;
      if (flags & 0x40) off += 1 + (esds[off] ?? 0);
      if (flags & 0x20) off += 2;
    } else if (tag === 0x04) {
      oti = esds[off] ?? oti;
      off += 13;
    } else if (tag === 0x05) {
      const b0 = esds[off] ?? 0x10;
      aot = b0 >> 3;
      if (aot === 31) aot = 32 + (((b0 & 7) << 3) | ((esds[off + 1] ?? 0) >> 5));
      break;
    } else {
      off += len;
    }
  }
  return `mp4a.${hex2(oti)}.${aot}`;
}

/** Parses a moof payload against the track's init defaults. */
export function parseMoof(moof: Buffer, init: InitInfo): FragmentInfo {
  return boundsChecked('cmaf-bad-fragment', 'fragment', () => parseMoofUnchecked(moof, init));
}

function parseMoofUnchecked(moof: Buffer, init: InitInfo): FragmentInfo {
  const mfhd = child(moof, 'mfhd');
  const traf = child(moof, 'traf');
  if (!traf) throw new InputError('cmaf-bad-fragment', 'moof has no traf');
  const boxes = readBoxes(traf);
  const tfhd = boxes.find((b) => b.type === 'tfhd')?.data;
  const tfdt = boxes.find((b) => b.type === 'tfdt')?.data;
  const truns = boxes.filter((b) => b.type === 'trun').map((b) => b.data);
  if (!tfhd || !tfdt || truns.length === 0) throw new InputError('cmaf-bad-fragment', 'traf lacks tfhd, tfdt or trun');
  const tfFlags = tfhd.readUInt32BE(0) & 0xffffff;
  let o = 8;
  if (tfFlags & 0x1) o += 8;
  if (tfFlags & 0x2) o += 4;
  let defDuration = init.defaultSampleDuration;
  let defFlags = init.defaultSampleFlags;
  if (tfFlags & 0x8) {
    defDuration = tfhd.readUInt32BE(o);
    o += 4;
  }
  if (tfFlags & 0x10) o += 4;
  if (tfFlags & 0x20) defFlags = tfhd.readUInt32BE(o);
  const decodeTime = tfdt[0] === 1 ? Number(tfdt.readBigUInt64BE(4)) : tfdt.readUInt32BE(4);
  let duration = 0;
  let sampleCount = 0;
  let keyframe = false;
  let firstSampleDuration = 0;
  truns.forEach((trun, trunIndex) => {
    const flags = trun.readUInt32BE(0) & 0xffffff;
    const count = trun.readUInt32BE(4);
    let p = 8;
    if (flags & 0x1) p += 4;
    let firstFlags: number | undefined;
    if (flags & 0x4) {
      firstFlags = trun.readUInt32BE(p);
      p += 4;
    }
    const per = ((flags & 0x100 ? 1 : 0) + (flags & 0x200 ? 1 : 0) + (flags & 0x400 ? 1 : 0) + (flags & 0x800 ? 1 : 0)) * 4;
    if (p + per * count > trun.length) throw new InputError('cmaf-bad-fragment', `trun claims ${count} samples beyond its size`);
    // Without per-sample fields a trun's count costs no bytes: bound it, or walking it could take minutes.
    if (sampleCount + count > MAX_SAMPLES_PER_FRAGMENT) throw new InputError('cmaf-bad-fragment', `fragment claims more than ${MAX_SAMPLES_PER_FRAGMENT} samples`);
    for (let i = 0; i < count; i++) {
      let d = defDuration;
      let f = i === 0 && firstFlags !== undefined ? firstFlags : defFlags;
      if (flags & 0x100) {
        d = trun.readUInt32BE(p);
        p += 4;
      }
      if (flags & 0x200) p += 4;
      if (flags & 0x400) {
        f = trun.readUInt32BE(p);
        p += 4;
      }
      if (flags & 0x800) p += 4;
      if (trunIndex === 0 && i === 0) {
        keyframe = init.kind === 'audio' || !(f & SAMPLE_IS_NON_SYNC);
        firstSampleDuration = d;
      }
      duration += d;
    }
    sampleCount += count;
  });
  if (sampleCount === 0) throw new InputError('cmaf-bad-fragment', 'fragment has no samples');
  return { sequenceNumber: mfhd ? mfhd.readUInt32BE(4) : 0, decodeTime, duration, sampleCount, keyframe, firstSampleDuration };
}

/**
 * Incremental reader, the one place the CMAF byte stream is framed: `push(chunk)`
 * takes bytes in any chunking and returns the init segments and fragments they
 * complete. A fragment's boxes are kept as slices of the chunks they came in and
 * joined once, when its mdat completes. Memory is bounded: at most one box
 * (≤ maxBoxBytes) plus the boxes of the fragment in progress are held.
 */
export class CmafReader {
  readonly #maxBoxBytes: number;
  readonly #queue = new ByteQueue();
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #ftyp: Buffer | undefined;
  #init: InitInfo | undefined;
  #moof: FragmentInfo | undefined;

  constructor(options: { maxBoxBytes: number }) {
    this.#maxBoxBytes = options.maxBoxBytes;
  }

  get init(): InitInfo | undefined {
    return this.#init;
  }

  /** Bytes held while waiting for the rest of a box or fragment. */
  get bufferedBytes(): number {
    return this.#queue.length + this.#pendingBytes;
  }

  push(chunk: Buffer): CmafEvent[] {
    const queue = this.#queue;
    queue.push(chunk);
    const events: CmafEvent[] = [];
    while (queue.length >= 8) {
      const header = queue.peek(8);
      let size = header.readUInt32BE(0);
      const type = header.toString('latin1', 4, 8);
      if (!/^[a-z0-9 ]{4}$/i.test(type) || !TOP_LEVEL.has(type)) {
        throw new InputError('cmaf-bad-box', `unexpected top-level box ${JSON.stringify(type)}: not a CMAF stream`);
      }
      if (size === 1) {
        if (queue.length < 16) break;
        const big = queue.peek(16).readBigUInt64BE(8);
        size = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
      } else if (size === 0) {
        throw new InputError('cmaf-bad-box', `box ${type} with size 0 (to end of file) is not allowed in a live stream`);
      }
      if (size < 8) throw new InputError('cmaf-bad-box', `box ${type} has invalid size ${size}`);
      if (size > this.#maxBoxBytes) {
        throw new InputError('cmaf-box-too-large', `box ${type} claims ${size} bytes, more than the ${this.#maxBoxBytes} allowed`);
      }
      if (queue.length < size) break;
      const event = this.#onBox(type, queue.take(size), size);
      if (event) events.push(event);
    }
    if (this.#pendingBytes > this.#maxBoxBytes * 2) {
      throw new InputError('cmaf-fragment-too-large', `fragment exceeds ${this.#maxBoxBytes * 2} bytes`);
    }
    return events;
  }

  /** Throws if the stream stopped in the middle of a box or fragment. */
  end(): void {
    if (this.#queue.length > 0 || this.#moof) {
      throw new InputError('cmaf-truncated', `stream ended inside a box (${this.#queue.length} bytes of a box pending)`);
    }
  }

  /**
   * The stream was cut off (its writer died mid-write): the box and fragment in
   * progress are dropped, what was whole stands. Returns the bytes dropped.
   */
  discardPartial(): number {
    const dropped = this.#queue.clear() + this.#pendingBytes;
    this.#resetFragment();
    return dropped;
  }

  /** One whole top-level box, as slices of the chunks it came in. */
  #onBox(type: string, slices: Buffer[], size: number): CmafEvent | undefined {
    switch (type) {
      case 'ftyp':
        this.#ftyp = Buffer.concat(slices, size);
        return undefined;
      case 'moov': {
        const box = Buffer.concat(slices, size);
        const info = parseMoov(payloadOf(box));
        this.#init = info;
        this.#resetFragment();
        return { type: 'init', info, bytes: this.#ftyp ? Buffer.concat([this.#ftyp, box]) : box };
      }
      case 'moof': {
        if (!this.#init) throw new InputError('cmaf-no-init', 'fragment before the init segment');
        if (this.#moof) throw new InputError('cmaf-bad-fragment', 'moof without mdat');
        // Parsed from one piece; a moof is small, so joining one that straddles chunks costs little.
        this.#moof = parseMoof(payloadOf(slices.length === 1 ? slices[0]! : Buffer.concat(slices, size)), this.#init);
        this.#add(slices, size);
        return undefined;
      }
      case 'mdat': {
        if (!this.#moof) throw new InputError('cmaf-bad-fragment', 'mdat without moof');
        this.#add(slices, size);
        // The one copy of the fragment: it no longer holds on to the chunks it came in.
        const bytes = Buffer.concat(this.#pending, this.#pendingBytes);
        const info = this.#moof;
        this.#resetFragment();
        return { type: 'fragment', info, bytes };
      }
      case 'styp':
      case 'prft':
      case 'emsg':
        if (this.#init) this.#add(slices, size);
        return undefined;
      default:
        return undefined; // free, skip, sidx, mfra …: dropped
    }
  }

  /** No fragment in progress. */
  #resetFragment(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#moof = undefined;
  }

  #add(slices: Buffer[], size: number): void {
    this.#pending.push(...slices);
    this.#pendingBytes += size;
  }
}

/** A top-level box's payload (after its 8- or 16-byte header). */
function payloadOf(box: Buffer): Buffer {
  return box.subarray(box.readUInt32BE(0) === 1 ? 16 : 8);
}
