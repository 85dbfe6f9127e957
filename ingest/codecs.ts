import type { types as ms } from 'mediasoup';

/**
 * The codecs a stage's Router offers. Opus for audio; VP8 and H.264 for video.
 * H.264 packetization-mode 1 with constrained baseline (42e01f) is what every
 * browser sends; FFmpeg decodes it, and it can be passed through untouched.
 */
export const stageMediaCodecs: ms.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: {} },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
];

export const supportedMimeTypes = new Set(stageMediaCodecs.map((c) => c.mimeType.toLowerCase()));
