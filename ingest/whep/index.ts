import type { Router } from 'express';
import type { Logger } from '../../common/index.ts';
import type { IngestConfig } from '../config.ts';
import type { Sfu } from '../sfu.ts';
import { createSessionRouter } from '../webrtcHttp/router.ts';
import { WhepSessions } from './sessions.ts';

export { WhepSessions, WhepSession, type WhepSessionEndReason, type WhepSessionsEvents, type WhepSessionsOptions } from './sessions.ts';
export { signWhepToken, verifyWhepToken, type WhepTokenClaims } from './token.ts';
export { translateWhepOffer, programCapabilities, type WhepOffer, type WhepOfferedMedia, type WhepReceivingMedia } from './offer.ts';

/**
 * WHEP playback as configured (`ingest.whep`): the sessions on `sfu`, and the
 * router that serves them (mount at /whep). The HTTP side is WHIP's
 * (ingest/webrtcHttp/router.ts): the same offer/answer exchange, session URL,
 * CORS, rate limit and error shape.
 */
export function createWhepEgress(sfu: Sfu, config: IngestConfig['whep'], logger: Logger): { sessions: WhepSessions; router: Router } {
  const sessions = new WhepSessions(
    sfu,
    {
      limits: { maxBytes: config.maxOfferBytes, maxMediaSections: config.maxMediaSections, maxLineLength: 2048 },
      connectTimeoutMs: config.connectTimeoutMs,
      maxViewersPerStage: config.maxViewersPerStage,
    },
    logger,
  );
  return { sessions, router: createSessionRouter(sessions, { ...config, logger, label: 'WHEP' }) };
}
