/**
 * common/: the ground every stage stands on, and the only folder they all import.
 * Takes in nothing from the stages. Gives out the logger, the typed errors
 * (InputError, InvalidStateError, DependencyError), TypedEmitter, the UDP port
 * pool, bearer and rate-limit helpers, the broadcast and stage id rules, and the
 * one contract between two stages: the RtpSessionDescriptor ingest hands to
 * transcode.
 */
export { createLogger, silentLogger, type Logger, type LogLevel } from './logger.ts';
export { InputError, InvalidStateError, DependencyError, errorMessage } from './errors.ts';
export { TypedEmitter } from './events.ts';
export { UdpPortPool, boundUdpPorts, isUdpPortBound, type PortAllocator, type PortPair, type PortPoolOptions } from './portPool.ts';
export { bundleForBrowser } from './browserBundle.ts';
export { bearerMatches, bearerToken } from './bearer.ts';
export { TokenBucket } from './tokenBucket.ts';
export { ClientRateLimiter, type ClientRateLimiterOptions } from './clientRateLimiter.ts';
export { BROADCAST_ID_PATTERN, STAGE_ID_PATTERN, broadcastIdFor, stageOfBroadcast, looksLikeBroadcastId } from './broadcastIds.ts';
export { rtpSessionSchema, type RtpSessionDescriptor, type RtpTrackDescription } from './rtpSession.ts';
