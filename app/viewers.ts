import type { NextFunction, Request, Response } from 'express';

/**
 * Estimates viewers per broadcast from playlist requests: distinct clients
 * (address + user agent) seen in the last `windowMs`. Behind a CDN this counts
 * the CDN's pulls, not people; the CDN's own analytics count those.
 */
export class ViewerEstimator {
  readonly #seen = new Map<string, Map<string, number>>();

  constructor(private readonly windowMs = 10_000) {}

  /** Express middleware for `/live/:broadcast/...` requests. */
  readonly middleware = (req: Request, _res: Response, next: NextFunction): void => {
    const m = /^\/live\/([A-Za-z0-9_-]{1,96})\/.*\.(m3u8|mpd)$/.exec(req.path);
    if (m) {
      const client = `${req.ip ?? ''}|${req.get('user-agent') ?? ''}`;
      let clients = this.#seen.get(m[1]!);
      if (!clients) this.#seen.set(m[1]!, (clients = new Map()));
      clients.set(client, Date.now());
      if (clients.size > 100_000) this.#prune(clients, Date.now());
    }
    next();
  };

  count(broadcastId: string, now = Date.now()): number {
    const clients = this.#seen.get(broadcastId);
    if (!clients) return 0;
    this.#prune(clients, now);
    return clients.size;
  }

  #prune(clients: Map<string, number>, now: number): void {
    for (const [k, t] of clients) if (now - t > this.windowMs) clients.delete(k);
  }
}
