/** Synthetic RTP for the switch tests: VP8 and H.264 packetisations built byte by byte. */
import { buildRtpPacket, parseRtpHeader, type RtpHeader } from '../../transcode/rtpPacket.ts';

export const VP8_PT = 96;
export const H264_PT = 102;

export interface PacketSpec {
  seq: number;
  ts: number;
  ssrc: number;
  marker?: boolean;
  pt?: number;
}

const rtp = (s: PacketSpec, payload: Uint8Array, pt: number) =>
  buildRtpPacket({ payloadType: s.pt ?? pt, marker: s.marker ?? false, sequenceNumber: s.seq & 0xffff, timestamp: s.ts >>> 0, ssrc: s.ssrc }, payload);

/**
 * A VP8 packet (RFC 7741 descriptor with a 15-bit PictureID). `start` marks the
 * first packet of a frame (S=1, PID=0); `key` makes that frame a keyframe
 * (payload header P bit clear, then the 9d 01 2a start code and the size).
 */
export function vp8Packet(s: PacketSpec & { start?: boolean; key?: boolean; width?: number; height?: number }): Buffer {
  const start = s.start ?? false;
  const descriptor = [0x80 | (start ? 0x10 : 0), 0x80, 0x80, s.seq & 0xff];
  if (!start) return rtp(s, Uint8Array.from([...descriptor, 0xaa, 0xbb, 0xcc]), VP8_PT);
  const w = s.width ?? 320;
  const h = s.height ?? 240;
  const header = s.key ? [0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a, w & 0xff, w >> 8, h & 0xff, h >> 8] : [0x51, 0x01, 0x00, 0x11, 0x22];
  return rtp(s, Uint8Array.from([...descriptor, ...header, 0xee]), VP8_PT);
}

export const SPS = Uint8Array.from([0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01]);
export const PPS = Uint8Array.from([0x68, 0xce, 0x3c, 0x80]);

/** H.264 single NAL unit packet. */
export function h264Single(s: PacketSpec, nal: Uint8Array): Buffer {
  return rtp(s, nal, H264_PT);
}

/** H.264 STAP-A aggregating `nals`. */
export function h264StapA(s: PacketSpec, nals: Uint8Array[]): Buffer {
  const parts: number[] = [0x18];
  for (const n of nals) parts.push(n.length >> 8, n.length & 0xff, ...n);
  return rtp(s, Uint8Array.from(parts), H264_PT);
}

/** H.264 FU-A fragment of a NAL of `type` (5 = IDR, 1 = non-IDR slice). */
export function h264FuA(s: PacketSpec & { type: number; start?: boolean; end?: boolean }): Buffer {
  const indicator = 0x60 | 28;
  const header = (s.start ? 0x80 : 0) | (s.end ? 0x40 : 0) | s.type;
  return rtp(s, Uint8Array.from([indicator, header, 0x88, 0x84, 0x21]), H264_PT);
}

export function header(buf: Buffer): RtpHeader {
  const h = parseRtpHeader(buf);
  if (!h) throw new Error('not RTP');
  return h;
}

/** A minimal RTCP sender report (PT 200). */
export function rtcpSenderReport(ssrc: number): Buffer {
  const buf = Buffer.alloc(28);
  buf[0] = 0x80;
  buf[1] = 200;
  buf.writeUInt16BE(6, 2);
  buf.writeUInt32BE(ssrc, 4);
  return buf;
}
