import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/**
 * The client's address as Express's `trust proxy: 'loopback'` gives it
 * (app/server.ts): the socket's peer, or, when that is a proxy on loopback,
 * the nearest X-Forwarded-For hop that is not loopback.
 */
export function clientAddress(req: IncomingMessage): string {
  const peer = req.socket.remoteAddress ?? '';
  const xff = req.headers['x-forwarded-for'];
  if (!LOOPBACK.test(peer) || xff === undefined) return peer;
  const hops = (Array.isArray(xff) ? xff.join(',') : xff).split(',').map((h) => h.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) if (!LOOPBACK.test(hops[i]!)) return hops[i]!;
  return hops[0] ?? peer;
}

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
    if (m) this.see(m[1]!, `${req.ip ?? ''}|${req.get('user-agent') ?? ''}`);
    next();
  };

  /** A playlist request of `broadcastId` from `client` (address|user agent). */
  see(broadcastId: string, client: string): void {
    let clients = this.#seen.get(broadcastId);
    if (!clients) this.#seen.set(broadcastId, (clients = new Map()));
    clients.set(client, Date.now());
    if (clients.size > 100_000) this.#prune(clients, Date.now());
  }

  /** The same, from a request the origin's hot path took (no Express request). */
  seeRequest(broadcastId: string, req: IncomingMessage): void {
    this.see(broadcastId, `${clientAddress(req)}|${req.headers['user-agent'] ?? ''}`);
  }

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
