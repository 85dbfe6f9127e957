import type { types as ms } from 'mediasoup';
import { parseParams, type MediaDescription } from 'sdp-transform';
import type { MediaKind } from '../types.ts';
import { h264Profile } from './h264.ts';

/** The codec chosen for an offered section: its payload type as the client numbers it, and what the server has of it. */
export interface ChosenCodec {
  payloadType: number;
  capability: ms.RtpCodecCapability;
  parameters: Record<string, string | number>;
  channels?: number;
}

/** A payload type's `a=fmtp` parameters, with unusual names or oversized values dropped. */
export function fmtpOf(m: MediaDescription, pt: number): Record<string, string | number> {
  const f = (m.fmtp ?? []).find((x) => Number(x.payload) === pt);
  if (!f || typeof f.config !== 'string') return {};
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(parseParams(f.config) as Record<string, unknown>)) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(k)) continue;
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    else if (typeof v === 'string' && v.length <= 256) out[k] = v;
  }
  return out;
}

/** The offer's RTCP feedback for the chosen codec (under `*` or its payload type) that the server's codec has too, in offer order. */
export function feedbackFor(m: MediaDescription, chosen: ChosenCodec): ms.RtcpFeedback[] {
  return (m.rtcpFb ?? [])
    .filter((fb) => fb.payload === '*' || Number(fb.payload) === chosen.payloadType)
    .map((fb) => ({ type: String(fb.type), parameter: fb.subtype === undefined ? '' : String(fb.subtype) }))
    .filter((fb) => (chosen.capability.rtcpFeedback ?? []).some((c) => c.type === fb.type && (c.parameter ?? '') === fb.parameter));
}

/** The chosen codec as mediasoup codec parameters: the client's payload type, the server's MIME type and clock rate. */
export function codecParameters(chosen: ChosenCodec, rtcpFeedback: ms.RtcpFeedback[]): ms.RtpCodecParameters {
  return {
    mimeType: chosen.capability.mimeType,
    payloadType: chosen.payloadType,
    clockRate: chosen.capability.clockRate,
    ...(chosen.channels !== undefined && chosen.channels > 1 ? { channels: chosen.channels } : {}),
    parameters: chosen.parameters,
    rtcpFeedback,
  };
}

function describeCapability(c: ms.RtpCodecCapability): string {
  if (c.mimeType.toLowerCase() === 'video/h264') return `${c.mimeType} (constrained baseline, packetization-mode=1)`;
  return c.mimeType;
}

/** The first offered codec (in the client's order of preference) that `caps` has, or why there is none. */
export function chooseCodec(m: MediaDescription, kind: MediaKind, caps: ms.RtpCapabilities): ChosenCodec | string {
  const usable = (caps.codecs ?? []).filter((c) => c.kind === kind && !/\/rtx$/i.test(c.mimeType));
  const offered: string[] = [];
  const order = String(m.payloads ?? '')
    .split(' ')
    .filter((p) => /^\d{1,3}$/.test(p))
    .map(Number);
  for (const pt of order) {
    if (pt > 127) continue;
    const rtp = (m.rtp ?? []).find((r) => Number(r.payload) === pt);
    if (!rtp) continue;
    const name = String(rtp.codec);
    if (/^(rtx|red|ulpfec|flexfec-03|cn|telephone-event)$/i.test(name)) continue;
    offered.push(`${name}/${rtp.rate}`);
    const parameters = fmtpOf(m, pt);
    const channels = rtp.encoding === undefined ? 1 : Number(rtp.encoding);
    const capability = usable.find((c) => {
      if (c.mimeType.toLowerCase() !== `${kind}/${name.toLowerCase()}` || c.clockRate !== Number(rtp.rate)) return false;
      if (kind === 'audio' && (c.channels ?? 1) !== channels) return false;
      if (c.mimeType.toLowerCase() === 'video/h264') {
        const wantMode = Number(c.parameters?.['packetization-mode'] ?? 0);
        if (Number(parameters['packetization-mode'] ?? 0) !== wantMode) return false;
        if (h264Profile(parameters['profile-level-id']) !== h264Profile(c.parameters?.['profile-level-id'])) return false;
      }
      return true;
    });
    if (capability) return { payloadType: pt, capability, parameters, ...(kind === 'audio' ? { channels } : {}) };
  }
  const accepted = usable.map(describeCapability).join(', ');
  return `no supported codec among ${offered.length ? offered.join(', ') : '(none)'}; this server takes ${accepted}`;
}
