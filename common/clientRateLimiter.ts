import { TokenBucket } from './tokenBucket.ts';

export interface ClientRateLimiterOptions {
  /** Refill rate of each client's bucket. */
  perSecond: number;
  /** Requests a client may make at once. */
  burst: number;
  /** Clients tracked at most (default 10,000); beyond it the least recently seen is forgotten. */
  maxClients?: number;
  /** Milliseconds; injected by tests. */
  now?: () => number;
}

/**
 * A token bucket per client key (an address) in bounded memory. When full it
 * first forgets buckets idle long enough to have refilled (the same as a new
 * one, so nothing is lost), then the least recently seen client. It never
 * forgets everyone: a client that keeps knocking stays limited however many
 * other addresses appear.
 */
export class ClientRateLimiter {
  /** In order of last use, least recent first (a touch is delete + set). */
  readonly #clients = new Map<string, { bucket: TokenBucket; last: number }>();
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #maxClients: number;
  readonly #refillMs: number;
  readonly #now: () => number;

  constructor(opts: ClientRateLimiterOptions) {
    if (!(opts.perSecond > 0) || !(opts.burst >= 1)) throw new TypeError('rate limit needs perSecond > 0 and burst >= 1');
    const maxClients = opts.maxClients ?? 10_000;
    if (!Number.isInteger(maxClients) || maxClients < 1) throw new TypeError('rate limit needs maxClients >= 1');
    this.#perSecond = opts.perSecond;
    this.#burst = opts.burst;
    this.#maxClients = maxClients;
    this.#refillMs = (opts.burst / opts.perSecond) * 1000;
    this.#now = opts.now ?? Date.now;
  }

  /** Clients tracked now (at most maxClients). */
  get size(): number {
    return this.#clients.size;
  }

  /** Whether `key` has a bucket now. */
  has(key: string): boolean {
    return this.#clients.has(key);
  }

  /** Takes one request from `key`'s bucket: false when it is empty. */
  take(key: string): boolean {
    const now = this.#now();
    let client = this.#clients.get(key);
    if (client) this.#clients.delete(key);
    else {
      if (this.#clients.size >= this.#maxClients) this.#makeRoom(now);
      client = { bucket: new TokenBucket(this.#perSecond, this.#burst, now), last: now };
    }
    client.last = now;
    this.#clients.set(key, client);
    return client.bucket.take(now);
  }

  #makeRoom(now: number): void {
    // Least recent first, so the refilled ones are at the front: stop at the first still in use.
    for (const [key, { last }] of this.#clients) {
      if (now - last < this.#refillMs) break;
      this.#clients.delete(key);
    }
    if (this.#clients.size < this.#maxClients) return;
    const lru = this.#clients.keys().next();
    if (!lru.done) this.#clients.delete(lru.value);
  }
}
