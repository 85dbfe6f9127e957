import dgram from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { DependencyError } from './errors.ts';

/** Two consecutive UDP ports: RTP on an even port and RTCP on the next one. */
export interface PortPair {
  readonly rtp: number;
  readonly rtcp: number;
}

/**
 * What hands out port pairs to an RTP output: the local `UdpPortPool`, or (on an
 * SFU sending to another machine) the pairs that machine reserved for itself.
 */
export interface PortAllocator {
  allocate(): Promise<PortPair>;
  release(pair: PortPair): void;
}

export interface PortPoolOptions {
  /** Address the ports are checked on (the receiver's bind address). */
  host: string;
  /** First port of the range (inclusive; rounded up to even). */
  min: number;
  /** Last port of the range (inclusive). */
  max: number;
}

/**
 * Hands out UDP port pairs (RTP, RTP + 1, as FFmpeg assumes RTCP there) from a
 * range, checking each by binding it, and takes them back on release. Pairs it
 * handed out are never handed out again until released, so two receivers of
 * ours never collide; a foreign process holding a port is skipped.
 */
export class UdpPortPool implements PortAllocator {
  readonly #opts: PortPoolOptions;
  readonly #inUse = new Set<number>();
  #next: number;

  constructor(opts: PortPoolOptions) {
    if (!Number.isInteger(opts.min) || !Number.isInteger(opts.max) || opts.min < 1024 || opts.max > 65535 || opts.max - opts.min < 1) {
      throw new TypeError(`invalid UDP port range ${opts.min}-${opts.max}`);
    }
    this.#opts = opts;
    this.#next = opts.min + (opts.min % 2);
  }

  get inUse(): number {
    return this.#inUse.size;
  }

  async allocate(): Promise<PortPair> {
    const { min, max } = this.#opts;
    const first = min + (min % 2);
    const slots = Math.floor((max - first + 1) / 2);
    for (let i = 0; i < slots; i++) {
      const rtp = this.#next;
      this.#next = rtp + 2 > max - 1 ? first : rtp + 2;
      if (this.#inUse.has(rtp)) continue;
      if ((await canBind(this.#opts.host, rtp)) && (await canBind(this.#opts.host, rtp + 1))) {
        this.#inUse.add(rtp);
        return { rtp, rtcp: rtp + 1 };
      }
    }
    throw new DependencyError('ports-exhausted', `no free UDP port pair in ${min}-${max} on ${this.#opts.host}`);
  }

  release(pair: PortPair): void {
    this.#inUse.delete(pair.rtp);
  }
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.close(() => resolve(true));
    });
  });
}

/** Local UDP ports some process has bound, from /proc/net/udp{,6}; undefined where /proc is unavailable. */
export async function boundUdpPorts(): Promise<Set<number> | undefined> {
  const ports = new Set<number>();
  let any = false;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    any = true;
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      const hex = local?.split(':').at(-1);
      if (hex) ports.add(parseInt(hex, 16));
    }
  }
  return any ? ports : undefined;
}

/**
 * Whether some process currently holds a UDP port: read from /proc (any local
 * address), which leaves the port alone; a probe bind, used only where /proc is
 * unavailable, would make a process binding it at that moment fail.
 */
export async function isUdpPortBound(host: string, port: number): Promise<boolean> {
  const bound = await boundUdpPorts();
  return bound ? bound.has(port) : !(await canBind(host, port));
}
