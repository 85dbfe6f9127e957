import type { Router } from 'express';
import type { Logger } from '../../common/index.ts';
import type { IngestConfig } from '../config.ts';
import type { Sfu } from '../sfu.ts';
import { createSessionRouter } from '../webrtcHttp/router.ts';
import { WhipSessions } from './sessions.ts';

export { translateOffer, type WhipOffer, type OfferedMedia, type AcceptedMedia } from './offer.ts';
export { buildAnswer } from './answer.ts';
export { WhipSessions, WhipSession, type WhipSessionEndReason, type WhipSessionsEvents, type WhipSessionsOptions } from './sessions.ts';
export { createSessionRouter as createWhipRouter, type SessionRouterOptions as WhipRouterOptions } from '../webrtcHttp/router.ts';

/** WHIP ingest as configured (`ingest.whip`): the sessions on `sfu`, and the router that serves them (mount at /whip). */
export function createWhipIngest(sfu: Sfu, config: IngestConfig['whip'], logger: Logger): { sessions: WhipSessions; router: Router } {
  const sessions = new WhipSessions(
    sfu,
    { limits: { maxBytes: config.maxOfferBytes, maxMediaSections: config.maxMediaSections, maxLineLength: 2048 }, connectTimeoutMs: config.connectTimeoutMs },
    logger,
  );
  return { sessions, router: createSessionRouter(sessions, { ...config, logger }) };
}
