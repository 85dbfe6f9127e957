/**
 * RTP header reading and rewriting (RFC 3550), RTCP recognition (RFC 5761) and
 * wrap-aware sequence/timestamp arithmetic. Pure: no sockets, no clocks.
 */

export interface RtpHeader {
  readonly marker: boolean;
  readonly payloadType: number;
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly ssrc: number;
  /** Byte offset of the payload (after CSRCs and the header extension). */
  readonly payloadOffset: number;
  /** Byte offset just past the payload (before padding). */
  readonly payloadEnd: number;
}

const FIXED_HEADER = 12;

/** Parses an RTP header; undefined for anything that is not well-formed RTP version 2. */
export function parseRtpHeader(buf: Uint8Array): RtpHeader | undefined {
  if (buf.length < FIXED_HEADER) return undefined;
  const b0 = buf[0]!;
  if (b0 >> 6 !== 2) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let offset = FIXED_HEADER + (b0 & 0x0f) * 4;
  if (b0 & 0x10) {
    if (buf.length < offset + 4) return undefined;
    offset += 4 + view.getUint16(offset + 2) * 4;
  }
  let end = buf.length;
  if (b0 & 0x20) {
    const pad = buf[buf.length - 1]!;
    if (pad === 0) return undefined;
    end -= pad;
  }
  if (offset > end) return undefined;
  return {
    marker: (buf[1]! & 0x80) !== 0,
    payloadType: buf[1]! & 0x7f,
    sequenceNumber: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    payloadOffset: offset,
    payloadEnd: end,
  };
}

/**
 * Whether a datagram is RTCP rather than RTP: version 2 and a second byte in
 * 192–223, the range RFC 5761 §4 reserves so both can share a port.
 */
export function isRtcpPacket(buf: Uint8Array): boolean {
  return buf.length >= 8 && buf[0]! >> 6 === 2 && buf[1]! >= 192 && buf[1]! <= 223;
}

/** Overwrites sequence number, timestamp and SSRC in place. */
export function rewriteRtpHeader(buf: Uint8Array, seq: number, ts: number, ssrc: number): void {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  view.setUint16(2, seq & 0xffff);
  view.setUint32(4, ts >>> 0);
  view.setUint32(8, ssrc >>> 0);
}

/** A fresh RTP packet (no CSRC, no extension) around a payload. */
export function buildRtpPacket(h: { payloadType: number; marker: boolean; sequenceNumber: number; timestamp: number; ssrc: number }, payload: Uint8Array): Buffer {
  const buf = Buffer.alloc(FIXED_HEADER + payload.length);
  buf[0] = 0x80;
  buf[1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f);
  rewriteRtpHeader(buf, h.sequenceNumber, h.timestamp, h.ssrc);
  buf.set(payload, FIXED_HEADER);
  return buf;
}

/** a − b for 16-bit sequence numbers, in −32768…32767 (RFC 3550 wrap-around). */
export function seqDiff(a: number, b: number): number {
  return (((a - b) & 0xffff) << 16) >> 16;
}

/** a − b for 32-bit RTP timestamps, as a signed 32-bit value. */
export function tsDiff(a: number, b: number): number {
  return (a - b) | 0;
}
