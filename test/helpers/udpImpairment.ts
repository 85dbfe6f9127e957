/**
 * A UDP impairment proxy for tests: sits between a sender and a receiver and
 * drops, delays (jitter) and reorders datagrams, with a seeded PRNG so a run
 * can be repeated. Datagrams from the receiver back to the sender (RTCP
 * receiver reports) take the same impairment.
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface ImpairmentOptions {
  /** PRNG seed: the same seed gives the same drop/delay decisions for the same packet order. */
  seed: number;
  /** Probability a datagram is dropped (0–1). */
  loss: number;
  /** Each datagram is delayed uniformly in [0, jitterMs]. */
  jitterMs: number;
  /** Probability a datagram is held back an extra jitterMs, so later ones overtake it. */
  reorder: number;
}

export interface ImpairmentStats {
  received: number;
  dropped: number;
  reordered: number;
  forwarded: number;
}

/** xorshift32: small, fast, seeded. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** One proxied UDP port: listens on `port` (loopback), forwards to the target, and back to the last sender. */
export class UdpImpairment {
  readonly stats: ImpairmentStats = { received: 0, dropped: 0, reordered: 0, forwarded: 0 };
  readonly #socket = dgram.createSocket('udp4');
  readonly #random: () => number;
  readonly #timers = new Set<NodeJS.Timeout>();
  #peer: { address: string; port: number } | undefined;
  #closed = false;

  private constructor(
    readonly target: { address: string; port: number },
    readonly options: ImpairmentOptions,
  ) {
    this.#random = seededRandom(options.seed);
    this.#socket.on('message', (msg, from) => this.#onMessage(msg, from));
  }

  /** Binds a free loopback port (or `port`). */
  static async open(target: { address: string; port: number }, options: ImpairmentOptions, port = 0): Promise<UdpImpairment> {
    const p = new UdpImpairment(target, options);
    await new Promise<void>((resolve, reject) => {
      p.#socket.once('error', reject);
      p.#socket.bind(port, '127.0.0.1', () => {
        p.#socket.off('error', reject);
        resolve();
      });
    });
    return p;
  }

  get port(): number {
    return (this.#socket.address() as AddressInfo).port;
  }

  #onMessage(msg: Buffer, from: dgram.RemoteInfo): void {
    const fromTarget = from.port === this.target.port && from.address === this.target.address;
    if (!fromTarget) this.#peer = { address: from.address, port: from.port };
    const to = fromTarget ? this.#peer : this.target;
    if (!to) return;
    this.stats.received++;
    if (this.#random() < this.options.loss) {
      this.stats.dropped++;
      return;
    }
    let delay = this.#random() * this.options.jitterMs;
    if (this.#random() < this.options.reorder) {
      delay += this.options.jitterMs;
      this.stats.reordered++;
    }
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (this.#closed) return;
      this.#socket.send(msg, to.port, to.address);
      this.stats.forwarded++;
    }, delay);
    this.#timers.add(t);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    await new Promise<void>((r) => this.#socket.close(() => r()));
  }
}

/**
 * A pair for one RTP track: RTP and RTCP (on RTP + 1 at the receiver, as FFmpeg
 * expects), each impaired with its own PRNG stream derived from the seed.
 */
export async function impairRtpPair(
  receiver: { address: string; rtp: number; rtcp: number },
  options: ImpairmentOptions,
): Promise<{ rtp: UdpImpairment; rtcp: UdpImpairment; close(): Promise<void> }> {
  const rtp = await UdpImpairment.open({ address: receiver.address, port: receiver.rtp }, options);
  const rtcp = await UdpImpairment.open({ address: receiver.address, port: receiver.rtcp }, { ...options, seed: options.seed * 31 + 7 }).catch(async (err: unknown) => {
    await rtp.close();
    throw err;
  });
  return { rtp, rtcp, close: async () => void (await Promise.all([rtp.close(), rtcp.close()])) };
}
