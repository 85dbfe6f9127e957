import os from 'node:os';
import { z } from 'zod';

const portRange = z
  .object({ min: z.number().int().min(1024).max(65535), max: z.number().int().min(1024).max(65535) })
  .refine((r) => r.max > r.min, { message: 'max must be greater than min' });

/** Configuration of the ingest stage (the SFU). Validated once, at start-up. */
export const ingestConfigSchema = z.object({
  /** mediasoup workers to run; one per core by default. */
  numWorkers: z.number().int().min(1).max(64).default(() => os.availableParallelism()),
  /** mediasoup worker log level. */
  workerLogLevel: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
  /** IP the WebRTC transports listen on. 0.0.0.0 or :: needs `announcedAddress`. */
  listenIp: z.string().min(1).default('127.0.0.1'),
  /** Address announced in ICE candidates (public IP or hostname); unset = listenIp. */
  announcedAddress: z.string().min(1).optional(),
  /** UDP/TCP ports for WebRTC transports. */
  rtcPorts: portRange.default({ min: 40000, max: 44999 }),
  /** Secret that signs host tokens (HMAC-SHA256); at least 16 characters. */
  hostTokenSecret: z.string().min(16, 'hostTokenSecret must be at least 16 characters'),
  /** Hosts a stage carries at most. */
  maxHostsPerStage: z.number().int().min(1).max(9).default(9),
  /** Bitrate the SFU assumes toward a new host before estimates arrive. */
  initialAvailableOutgoingBitrate: z.number().int().positive().default(1_000_000),
  /**
   * Simulcast layers the host page sends its camera as (1 = one encoding). With
   * 3, a 720p camera goes out as 720p, 360p and 180p (scales 1, 2, 4), which the
   * `simulcast` transcode mode packages as a ladder without encoding. The app
   * sets 3 when the transcode mode is `simulcast` or `auto`, unless given;
   * unset elsewhere means 1.
   */
  hostSimulcastLayers: z.number().int().min(1).max(3).optional(),
  /** IP the PlainTransports toward the transcoder bind to. */
  rtpOutListenIp: z.string().min(1).default('127.0.0.1'),
  signalling: z
    .object({
      /** Largest signalling message accepted with an error reply; larger closes the socket. */
      maxMessageBytes: z.number().int().min(1024).max(1 << 20).default(64 * 1024),
      /** Messages per second per connection, and the burst allowed above that. */
      ratePerSecond: z.number().positive().default(20),
      rateBurst: z.number().int().min(1).default(40),
      /** New connections per second per client address, and the burst above that; beyond it the upgrade gets 429. */
      connectRatePerSecond: z.number().positive().default(2),
      connectBurst: z.number().int().min(1).default(20),
      /** A connection that has not joined a stage by then is closed. */
      joinTimeoutMs: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  /** WHIP ingest (RFC 9725) at /whip/:stageId: what an offer may be and how often a client may call. */
  whip: z
    .object({
      /** Largest SDP offer in bytes (413 beyond); browsers send 5-8 KiB. */
      maxOfferBytes: z.number().int().min(1024).max(1 << 20).default(32 * 1024),
      /** Most m= sections in an offer (422 beyond); a session sends one audio and one video track. */
      maxMediaSections: z.number().int().min(2).max(64).default(8),
      /** Requests per second per client IP, and the burst allowed above that (429 beyond). */
      ratePerSecond: z.number().positive().default(2),
      rateBurst: z.number().int().min(1).default(20),
      /** A session whose ICE/DTLS has not connected by then is ended, so it does not hold a host slot. */
      connectTimeoutMs: z.number().int().positive().default(20_000),
    })
    .prefault({}),
  /**
   * WHEP playback (draft-ietf-wish-whep) at /whep/:stageId: the program as
   * WebRTC for the few who need sub-second latency. Off by default: each
   * broadcast then sends an RTP copy of its program back into the SFU, which
   * costs one more x264 encode of the top rung when the ladder is encoded.
   */
  whep: z
    .object({
      enabled: z.boolean().default(false),
      /** WebRTC seats per stage (503 beyond); see README for what a worker holds. */
      maxViewersPerStage: z.number().int().min(1).max(10_000).default(100),
      maxOfferBytes: z.number().int().min(1024).max(1 << 20).default(32 * 1024),
      maxMediaSections: z.number().int().min(2).max(64).default(8),
      ratePerSecond: z.number().positive().default(5),
      rateBurst: z.number().int().min(1).default(50),
      /** A session whose ICE/DTLS has not connected by then is ended, freeing its seat. */
      connectTimeoutMs: z.number().int().positive().default(20_000),
    })
    .prefault({}),
}).refine((c) => !['0.0.0.0', '::'].includes(c.listenIp) || c.announcedAddress, {
  message: 'listening on all interfaces needs announcedAddress (the address browsers reach)',
  path: ['announcedAddress'],
});

export type IngestConfig = z.infer<typeof ingestConfigSchema>;
export type IngestConfigInput = z.input<typeof ingestConfigSchema>;
