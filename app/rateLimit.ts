import type { NextFunction, Request, Response } from 'express';
import { TokenBucket } from '../ingest/index.ts';

export interface RateLimitOptions {
  perSecond: number;
  burst: number;
  /** Clients tracked at most; beyond it idle (refilled) buckets are forgotten first. */
  maxClients?: number;
  now?: () => number;
}

/**
 * Per-client token buckets keyed by the client address (`req.ip`, which honours
 * `trust proxy`): 429 with Retry-After when a client's bucket is empty. Memory is
 * bounded: a bucket that has refilled is the same as a new one, so it can go.
 */
export function rateLimitPerClient(opts: RateLimitOptions): (req: Request, res: Response, next: NextFunction) => void {
  const now = opts.now ?? Date.now;
  const maxClients = opts.maxClients ?? 10_000;
  const buckets = new Map<string, { bucket: TokenBucket; last: number }>();
  const refillMs = (opts.burst / opts.perSecond) * 1000;
  const retryAfter = String(Math.max(1, Math.ceil(1 / opts.perSecond)));
  const prune = (t: number) => {
    for (const [k, v] of buckets) if (t - v.last >= refillMs) buckets.delete(k);
    // Still full of active clients: drop the oldest (a flood of addresses must not grow memory).
    for (const k of buckets.keys()) {
      if (buckets.size < maxClients) break;
      buckets.delete(k);
    }
  };
  return (req, res, next) => {
    const t = now();
    const key = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    let entry = buckets.get(key);
    if (!entry) {
      if (buckets.size >= maxClients) prune(t);
      entry = { bucket: new TokenBucket(opts.perSecond, opts.burst, t), last: t };
      buckets.set(key, entry);
    }
    entry.last = t;
    if (entry.bucket.take(t)) return next();
    res
      .status(429)
      .setHeader('Retry-After', retryAfter)
      .json({ error: { code: 'rate-limited', message: `too many requests; at most ${opts.perSecond}/s (burst ${opts.burst}) per client` } });
  };
}
