export { createLogger, silentLogger, type Logger, type LogLevel } from './logger.ts';
export { InputError, InvalidStateError, DependencyError, errorMessage } from './errors.ts';
export { TypedEmitter } from './events.ts';
export { UdpPortPool, boundUdpPorts, isUdpPortBound, type PortAllocator, type PortPair, type PortPoolOptions } from './portPool.ts';
export { bundleForBrowser } from './browserBundle.ts';
export { bearerMatches, bearerToken } from './bearer.ts';
export { TokenBucket } from './tokenBucket.ts';
export { ClientRateLimiter, type ClientRateLimiterOptions } from './clientRateLimiter.ts';
export { BROADCAST_ID_PATTERN, STAGE_ID_PATTERN, broadcastIdFor, stageOfBroadcast, looksLikeBroadcastId } from './broadcastIds.ts';
