import type { NextFunction, Request, Response } from 'express';
import { ClientRateLimiter, type ClientRateLimiterOptions } from '../common/index.ts';

/** perSecond and burst per client; maxClients (default 10,000) bounds memory; now is for tests. */
export type RateLimitOptions = ClientRateLimiterOptions;

/**
 * Per-client token buckets keyed by the client address (`req.ip`, which honours
 * `trust proxy`): 429 with Retry-After when a client's bucket is empty. Memory is
 * bounded by the limiter (common/clientRateLimiter.ts).
 */
export function rateLimitPerClient(opts: RateLimitOptions): (req: Request, res: Response, next: NextFunction) => void {
  const limiter = new ClientRateLimiter(opts);
  const retryAfter = String(Math.max(1, Math.ceil(1 / opts.perSecond)));
  return (req, res, next) => {
    if (limiter.take(req.ip ?? req.socket.remoteAddress ?? 'unknown')) return next();
    res
      .status(429)
      .setHeader('Retry-After', retryAfter)
      .json({ error: { code: 'rate-limited', message: `too many requests; at most ${opts.perSecond}/s (burst ${opts.burst}) per client` } });
  };
}
