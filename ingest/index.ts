/**
 * Ingest: hosts' media in, plain RTP out. This file is the stage's whole public surface.
 *
 * Takes in WebRTC from browser hosts over our signalling (signalling/, the host
 * page), WHIP (RFC 9725) from OBS, GStreamer and FFmpeg (whip/), and WHEP
 * viewers (whep/), who are sent the broadcast's program, which comes back in
 * as RTP (ProgramSource). WHIP and WHEP share their HTTP and SDP side
 * (webrtcHttp/).
 *
 * Gives out plain RTP per host and track to transcode (RtpOutput), described
 * as data (RtpOutput.descriptor, an RtpSessionDescriptor of common/; transcode
 * writes the SDP FFmpeg reads from it), and stage and host events (Sfu, Stage).
 */
export { Sfu, type SfuEvents } from './sfu.ts';
export { Stage, Host, type TransportLiveness } from './stage.ts';
export { ProgramSource, programRtpParameters, type ProgramStreamSpec, type ProgramInputAddress } from './programSource.ts';
export { WhepSessions, WhepSession, createWhepEgress, signWhepToken, verifyWhepToken, type WhepSessionEndReason } from './whep/index.ts';
export { RtpOutput, type RtpOutputSource, type RtpOutputTrack, type RtpTargetHook } from './rtpOutput.ts';
export { WorkerPool } from './workerPool.ts';
export { ingestConfigSchema, type IngestConfig, type IngestConfigInput } from './config.ts';
export { signHostToken, verifyHostToken, type HostRole, type HostTokenClaims } from './hostToken.ts';
export { SignallingServer, CloseCode } from './signalling/server.ts';
export { parseRequest, requestSchema, type SignalRequest, type ServerMessage } from './signalling/messages.ts';
export { buildHostPage, createHostPageRouter, type HostPageAssets } from './hostPage.ts';
export { stageMediaCodecs } from './codecs.ts';
export type { AudioLevel, MediaKind, ProducerInfo, StageCloseReason, StageEvents, WebRtcTransportInfo } from './types.ts';
export {
  WhipSessions,
  WhipSession,
  createWhipIngest,
  createWhipRouter,
  type WhipOffer,
  type WhipSessionEndReason,
} from './whip/index.ts';
