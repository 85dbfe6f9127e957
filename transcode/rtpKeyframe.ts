/**
 * Finds the first RTP packet of a keyframe in a VP8 (RFC 7741) or H.264
 * (RFC 6184, packetization-mode 1) payload, and the H.264 parameter sets that
 * a decoder needs before an IDR. Pure functions over the RTP payload bytes.
 */

/** Video codecs switched at keyframes; Opus (every packet decodes alone) switches at any packet. */
export type SwitchCodec = 'VP8' | 'H264' | 'opus';

/** NAL unit types (H.264 Table 7-1, RFC 6184 §5.2). */
const NAL_IDR = 5;
const NAL_SPS = 7;
const NAL_PPS = 8;
const NAL_STAP_A = 24;
const NAL_FU_A = 28;

/** Where the VP8 payload header starts after the payload descriptor; undefined if truncated. */
function vp8HeaderOffset(p: Uint8Array): number | undefined {
  if (p.length < 1) return undefined;
  let i = 1;
  if (p[0]! & 0x80) {
    // X: extension byte I L T K.
    if (p.length < 2) return undefined;
    const ext = p[1]!;
    i = 2;
    if (ext & 0x80) {
      if (p.length <= i) return undefined;
      i += p[i]! & 0x80 ? 2 : 1; // PictureID, 15 bits when M is set
    }
    if (ext & 0x40) i += 1; // TL0PICIDX
    if (ext & 0x30) i += 1; // TID/Y/KEYIDX
  }
  return i < p.length ? i : undefined;
}

/**
 * The first packet of a VP8 keyframe: the descriptor's S bit with partition
 * index 0 (the packet starts the frame), and the payload header's P bit clear
 * (P is the inverse key-frame flag, RFC 6386 §9.1).
 */
export function isVp8KeyframeStart(payload: Uint8Array): boolean {
  const b0 = payload[0];
  if (b0 === undefined || !(b0 & 0x10) || (b0 & 0x07) !== 0) return false;
  const i = vp8HeaderOffset(payload);
  if (i === undefined || payload.length < i + 3) return false;
  return (payload[i]! & 0x01) === 0;
}

/** Width × height coded in a VP8 keyframe's first packet (after the 9d 01 2a start code). */
export function vp8KeyframeSize(payload: Uint8Array): { width: number; height: number } | undefined {
  if (!isVp8KeyframeStart(payload)) return undefined;
  const i = vp8HeaderOffset(payload)!;
  if (payload.length < i + 10 || payload[i + 3] !== 0x9d || payload[i + 4] !== 0x01 || payload[i + 5] !== 0x2a) return undefined;
  const width = (payload[i + 6]! | (payload[i + 7]! << 8)) & 0x3fff;
  const height = (payload[i + 8]! | (payload[i + 9]! << 8)) & 0x3fff;
  return { width, height };
}

export interface H264PacketInfo {
  /** The packet starts a keyframe: an SPS or the start of an IDR slice, alone, in a STAP-A or as FU-A start. */
  readonly keyframeStart: boolean;
  /** It carries an SPS (the decoder can re-initialise from here on). */
  readonly hasSps: boolean;
  /** Parameter sets carried whole in this packet (copies), for replay before a bare IDR. */
  readonly sps?: Buffer;
  readonly pps?: Buffer;
}

const NONE: H264PacketInfo = { keyframeStart: false, hasSps: false };

/** What an H.264 RTP payload holds, as far as switching on it is concerned. */
export function inspectH264(payload: Uint8Array): H264PacketInfo {
  if (payload.length < 1) return NONE;
  const type = payload[0]! & 0x1f;
  if (type >= 1 && type <= 23) {
    return {
      keyframeStart: type === NAL_IDR || type === NAL_SPS,
      hasSps: type === NAL_SPS,
      ...(type === NAL_SPS ? { sps: Buffer.from(payload) } : {}),
      ...(type === NAL_PPS ? { pps: Buffer.from(payload) } : {}),
    };
  }
  if (type === NAL_STAP_A) {
    let keyframeStart = false;
    let sps: Buffer | undefined;
    let pps: Buffer | undefined;
    for (let i = 1; i + 2 <= payload.length; ) {
      const size = (payload[i]! << 8) | payload[i + 1]!;
      i += 2;
      if (size === 0 || i + size > payload.length) break; // truncated aggregate: use what was whole
      const nal = payload.subarray(i, i + size);
      const t = nal[0]! & 0x1f;
      if (t === NAL_IDR || t === NAL_SPS) keyframeStart = true;
      if (t === NAL_SPS) sps = Buffer.from(nal);
      if (t === NAL_PPS) pps = Buffer.from(nal);
      i += size;
    }
    return { keyframeStart, hasSps: sps !== undefined, ...(sps ? { sps } : {}), ...(pps ? { pps } : {}) };
  }
  if (type === NAL_FU_A) {
    if (payload.length < 2) return NONE;
    const fu = payload[1]!;
    const t = fu & 0x1f;
    const start = (fu & 0x80) !== 0;
    return { keyframeStart: start && (t === NAL_IDR || t === NAL_SPS), hasSps: start && t === NAL_SPS };
  }
  return NONE;
}

/** Whether this payload is the first packet of a keyframe of the codec. */
export function isKeyframeStart(codec: SwitchCodec, payload: Uint8Array): boolean {
  if (codec === 'opus') return payload.length > 0;
  return codec === 'VP8' ? isVp8KeyframeStart(payload) : inspectH264(payload).keyframeStart;
}
