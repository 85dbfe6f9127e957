import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * The RTP a stage sends toward a receiver (FFmpeg), as data: the contract
 * between ingest, which opens the streams, and transcode, which writes the SDP
 * FFmpeg reads. Here so that neither stage imports the other.
 */

/** One RTP stream. RTCP is on `port + 1` (FFmpeg 5.1 assumes so). */
export interface RtpTrackDescription {
  readonly kind: 'audio' | 'video';
  /** Where the receiver listens for RTP; RTCP is expected on `port + 1`. */
  readonly port: number;
  readonly payloadType: number;
  /** e.g. `audio/opus`, `video/VP8`, `video/H264`. */
  readonly mimeType: string;
  readonly clockRate: number;
  readonly channels?: number;
  /** Codec parameters, as in mediasoup's RtpCodecParameters (the SDP's a=fmtp). */
  readonly parameters?: Readonly<Record<string, unknown>>;
  readonly ssrc?: number;
  /** A stable label for the track (the producer id, `<producer id>/<layer>` for a simulcast layer). */
  readonly label?: string;
}

/** An RTP session: the address the receiver listens on, and its tracks in order. */
export interface RtpSessionDescriptor {
  /** The receiver's IP address (where the RTP is sent). */
  readonly address: string;
  /** A name for logs and the SDP's `s=` line (e.g. `stagecast stage <id>`). */
  readonly sessionName: string;
  readonly tracks: readonly RtpTrackDescription[];
}

const MAX_TRACKS = 32;

const trackSchema = z
  .object({
    kind: z.enum(['audio', 'video']),
    port: z.number().int('invalid RTP port').min(1, 'invalid RTP port').max(65534, 'invalid RTP port'),
    payloadType: z.number().int().min(0).max(127),
    mimeType: z.string().regex(/^(audio|video)\/[A-Za-z0-9.-]{1,32}$/, 'not a media type like video/VP8'),
    clockRate: z.number().int().min(1).max(1_000_000),
    channels: z.number().int().min(1).max(8).optional(),
    parameters: z
      .record(z.string().max(64), z.union([z.string().max(256), z.number(), z.boolean()]))
      .refine((p) => Object.keys(p).length <= 32, 'more than 32 codec parameters')
      .optional(),
    ssrc: z.number().int().min(0).max(0xffffffff).optional(),
    label: z.string().max(128).optional(),
  })
  .strict()
  .refine((t) => t.mimeType.startsWith(`${t.kind}/`), { message: 'mimeType does not match kind', path: ['mimeType'] });

/**
 * An RtpSessionDescriptor, bounded (it crosses the internal channel between an
 * SFU and a broadcast node, and goes on to FFmpeg).
 */
export const rtpSessionSchema: z.ZodType<RtpSessionDescriptor> = z
  .object({
    address: z.string().max(64).refine((a) => isIP(a) !== 0, 'not an IP address'),
    sessionName: z.string().max(256),
    tracks: z.array(trackSchema).max(MAX_TRACKS, `more than ${MAX_TRACKS} tracks`),
  })
  .strict();
