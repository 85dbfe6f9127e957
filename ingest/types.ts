import type { HostRole } from './hostToken.ts';
import type { ProgramSource } from './programSource.ts';

export type { HostRole };
export type MediaKind = 'audio' | 'video';

/** Why a stage closed. */
export type StageCloseReason = 'closed' | 'worker-died' | 'shutdown';

/** A track a host publishes on a stage. */
export interface ProducerInfo {
  id: string;
  hostId: string;
  kind: MediaKind;
  /** e.g. `video/VP8`, `video/H264`, `audio/opus`. */
  mimeType: string;
  /** The publisher's capture size, when it said so (video only). */
  source?: { width: number; height: number };
  /**
   * Simulcast (video only, two or more encodings): the layers, lowest first as
   * mediasoup numbers them (spatial layer 0 is the smallest), each with its
   * height when the publisher's capture size and scale are known.
   */
  layers?: { height?: number }[];
  /** Paused by the stage owner (muted): no media leaves the SFU. */
  paused?: boolean;
}

/** A host's audio level in one report (dBov, -127 silent … 0 loudest). */
export interface AudioLevel {
  hostId: string;
  producerId: string;
  volume: number;
}

export interface StageEvents {
  hostjoin: [hostId: string];
  hostleave: [hostId: string];
  producer: [info: ProducerInfo];
  producerclose: [info: ProducerInfo];
  /** The stage owner paused (muted) or resumed a producer. */
  producerpause: [info: ProducerInfo, paused: boolean];
  /** Hosts above the level threshold, loudest first; empty on silence (after `watchAudioLevels`). */
  audiolevels: [levels: AudioLevel[]];
  close: [reason: StageCloseReason];
  /** The broadcast's program came back into the SFU as RTP (WHEP viewers may consume it) ... */
  programopen: [source: ProgramSource];
  /** ... and stopped (the broadcast ended or its transcoder closed). */
  programclose: [];
}

/** What the SFU answers to a WebRTC transport request (mediasoup-client's input). */
export interface WebRtcTransportInfo {
  id: string;
  iceParameters: unknown;
  iceCandidates: unknown[];
  dtlsParameters: unknown;
}
