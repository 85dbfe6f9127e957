export { translateOffer, defaultOfferLimits, type WhipOffer, type WhipOfferLimits, type OfferedMedia, type AcceptedMedia, type RejectedMedia } from './offer.ts';
export { buildAnswer, type WhipTransportDescription } from './answer.ts';
export { h264Profile, type H264Profile } from './h264.ts';
export { WhipSessions, WhipSession, type WhipSessionEndReason, type WhipSessionsEvents, type WhipSessionsOptions } from './sessions.ts';
export { createWhipIngest, createWhipRouter, type WhipRouterOptions } from './http.ts';
