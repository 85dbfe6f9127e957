/**
 * An RTP video switch: several sources (one SFU PlainTransport each) in, ONE
 * continuous RTP stream out to FFmpeg, the way SFUs switch simulcast layers.
 * FFmpeg keeps running and never sees a new SSRC, a sequence gap or a
 * timestamp jump; the program video changes at the new source's keyframe.
 * The rewriting rules live in rtpSwitchCore.ts; this file owns sockets, ports,
 * timers and keyframe requests.
 */
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DependencyError, InvalidStateError, errorMessage, type Logger, type PortPair, type UdpPortPool } from '../common/index.ts';
import { TypedEmitter } from '../common/index.ts';
import { RtpSwitchCore, type RtpSwitchStats, type RtpSwitchStep } from './rtpSwitchCore.ts';
import type { SwitchCodec } from './rtpKeyframe.ts';

export interface RtpSwitchOptions {
  /** All sources must send this codec with this payload type. */
  codec: SwitchCodec;
  payloadType: number;
  /** Where FFmpeg listens for this video stream (RTP; RTCP is not sent). */
  target: { address: string; port: number };
  /** Local address of the source sockets (and of the output socket). */
  bindAddress: string;
  /** Source port pairs (RTP, RTP + 1 for RTCP) come from here when given; ephemeral ports otherwise. */
  portPool?: UdpPortPool;
  /** Asks the SFU for a keyframe of that source (consumer.requestKeyFrame()). */
  requestKeyFrame: (sourceId: string) => void;
  logger: Logger;
  /** Output SSRC; random by default. */
  ssrc?: number;
  /** How often a keyframe is asked for again while a selection waits for one (ms, default 1000). */
  keyframeRetryMs?: number;
  /** Longest the new source's keyframe waits for the old source to finish its frame (ms, default 100). */
  maxHoldMs?: number;
}

export interface RtpSwitchEvents {
  /** The output now carries this source (its keyframe has just been sent). */
  switched: [sourceId: string];
}

export interface RtpSwitchSourceAddress {
  address: string;
  port: number;
  rtcpPort?: number;
}

interface Source {
  readonly id: string;
  readonly rtp: dgram.Socket;
  readonly rtcp: dgram.Socket;
  readonly pair?: PortPair;
  readonly address: RtpSwitchSourceAddress;
  refusedLogged: boolean;
}

export class RtpSwitch extends TypedEmitter<RtpSwitchEvents> {
  readonly #opts: RtpSwitchOptions;
  readonly #log: Logger;
  readonly #core: RtpSwitchCore;
  readonly #out: dgram.Socket;
  readonly #sources = new Map<string, Source>();
  /** Ids whose sockets are being opened (addSource() in flight), each with its call's token. */
  readonly #opening = new Map<string, object>();
  readonly #t0 = performance.now();
  #keyframeTimer: NodeJS.Timeout | undefined;
  #holdTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly ssrc: number;

  private constructor(opts: RtpSwitchOptions, out: dgram.Socket, ssrc: number) {
    super();
    this.#opts = opts;
    this.#out = out;
    this.ssrc = ssrc;
    this.#log = opts.logger.child({ component: 'rtp-switch' });
    this.onListenerError((event, err) => this.#log.error({ err, event }, 'listener failed'));
    this.#core = new RtpSwitchCore({
      codec: opts.codec,
      payloadType: opts.payloadType,
      ssrc,
      initialSequence: randomInt(0, 0x10000),
      initialTimestamp: randomInt(0, 2 ** 32 - 1),
    });
    out.on('error', (err) => this.#log.warn({ err }, 'output socket error'));
  }

  /** Opens the output socket. Throws TypeError on bad options, DependencyError if the socket cannot be bound. */
  static async create(opts: RtpSwitchOptions): Promise<RtpSwitch> {
    const { target } = opts;
    if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) throw new TypeError(`invalid target port ${target.port}`);
    if (opts.ssrc !== undefined && (!Number.isInteger(opts.ssrc) || opts.ssrc < 0 || opts.ssrc > 0xffffffff)) throw new TypeError(`invalid SSRC ${opts.ssrc}`);
    const ssrc = opts.ssrc ?? randomInt(1, 2 ** 32 - 1);
    const out = await bindSocket(opts.bindAddress, 0);
    try {
      // The core validates codec and payload type (TypeError).
      return new RtpSwitch(opts, out, ssrc);
    } catch (err) {
      out.close();
      throw err;
    }
  }

  get active(): string | undefined {
    return this.#core.active;
  }

  /** The selected source still waiting for its keyframe. */
  get pending(): string | undefined {
    return this.#core.pending;
  }

  get stats(): Readonly<RtpSwitchStats> {
    return { ...this.#core.stats };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Where this source's RTP (and RTCP, on `rtcpPort`) must be sent: the SFU PlainTransport's connect() target. */
  async addSource(sourceId: string): Promise<RtpSwitchSourceAddress> {
    this.#assertOpen('addSource');
    if (typeof sourceId !== 'string' || sourceId.length === 0) throw new TypeError('sourceId must be a non-empty string');
    this.#core.addSource(sourceId); // throws duplicate-source before any port is taken
    const token = {};
    this.#opening.set(sourceId, token);
    // Still this call's source: not closed, not removed (and maybe added again) meanwhile.
    const current = () => !this.#closed && this.#opening.get(sourceId) === token;
    const pool = this.#opts.portPool;
    let pair: PortPair | undefined;
    const sockets: dgram.Socket[] = [];
    try {
      pair = pool ? await pool.allocate() : undefined;
      sockets.push(await bindSocket(this.#opts.bindAddress, pair?.rtp ?? 0));
      sockets.push(await bindSocket(this.#opts.bindAddress, pair?.rtcp ?? 0));
    } catch (err) {
      for (const s of sockets) s.close();
      if (pair) pool?.release(pair);
      if (current()) {
        this.#opening.delete(sourceId);
        this.#core.removeSource(sourceId);
      }
      throw err;
    }
    const [rtp, rtcp] = sockets as [dgram.Socket, dgram.Socket];
    if (!current()) {
      // close() or removeSource() ran while the ports were being bound.
      rtp.close();
      rtcp.close();
      if (pair) pool?.release(pair);
      throw new InvalidStateError(`addSource() interrupted by ${this.#closed ? 'close()' : 'removeSource()'} [source:${sourceId}]`);
    }
    this.#opening.delete(sourceId);
    const address: RtpSwitchSourceAddress = {
      address: this.#opts.bindAddress,
      port: (rtp.address() as AddressInfo).port,
      rtcpPort: (rtcp.address() as AddressInfo).port,
    };
    const source: Source = { id: sourceId, rtp, rtcp, address, refusedLogged: false, ...(pair ? { pair } : {}) };
    rtp.on('message', (msg) => this.#onDatagram(source, msg));
    // RTCP from the SFU (sender reports) is read and counted, never forwarded as media.
    rtcp.on('message', (msg) => {
      if (!this.#closed && this.#sources.get(sourceId) === source) this.#core.receiveControl(sourceId, msg);
    });
    for (const s of sockets) s.on('error', (err) => this.#log.warn({ err, source: sourceId }, 'source socket error'));
    this.#sources.set(sourceId, source);
    this.#log.debug({ source: sourceId, ...address }, 'addSource()');
    return address;
  }

  /** Closes a source's ports. If it was on air the output pauses until another source is selected. */
  removeSource(sourceId: string): void {
    if (this.#closed) return;
    this.#opening.delete(sourceId); // an addSource() in flight gives its ports back
    const wasActive = this.#core.active === sourceId;
    this.#apply(this.#core.removeSource(sourceId));
    const source = this.#sources.get(sourceId);
    if (source) {
      this.#sources.delete(sourceId);
      this.#closeSource(source);
      this.#log.debug({ source: sourceId, wasActive }, 'removeSource()');
    }
    this.#updateTimers();
  }

  /** Puts a source on air at its next keyframe (asked for now, and again every second until it comes). */
  select(sourceId: string): void {
    this.#assertOpen('select');
    // InputError unknown-source unless added (a source whose ports are still being bound may be selected).
    const before = this.#core.pending;
    const state = this.#core.select(sourceId);
    this.#log.debug({ source: sourceId, state }, 'select()');
    if (state === 'pending' && before !== sourceId) {
      clearInterval(this.#keyframeTimer);
      this.#keyframeTimer = undefined;
      this.#askKeyframe(sourceId);
    }
    this.#updateTimers();
  }

  /** Closes every socket and releases every port; safe twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keyframeTimer);
    clearTimeout(this.#holdTimer);
    this.#keyframeTimer = this.#holdTimer = undefined;
    const closing = [...this.#sources.values()].map((s) => this.#closeSource(s));
    this.#sources.clear();
    await Promise.all([...closing, new Promise<void>((resolve) => this.#out.close(() => resolve()))]);
    this.#log.debug({ stats: this.#core.stats }, 'close()');
  }

  #onDatagram(source: Source, msg: Buffer): void {
    if (this.#closed || this.#sources.get(source.id) !== source) return;
    const step = this.#core.receive(source.id, msg, performance.now() - this.#t0);
    if (step.refused && !source.refusedLogged) {
      source.refusedLogged = true; // once per source: a misconfigured sender must not flood the log
      this.#log.warn({ source: source.id, reason: step.refused, expectedPayloadType: this.#opts.payloadType }, 'dropping packets that are not the configured RTP stream');
    }
    this.#apply(step);
    if (step.needsKeyframe) {
      this.#log.info({ source: step.needsKeyframe }, 'source restarted with a new SSRC; resynchronising on its next keyframe');
      this.#askKeyframe(step.needsKeyframe);
    }
    this.#updateTimers();
  }

  #apply(step: RtpSwitchStep): void {
    const { address, port } = this.#opts.target;
    for (const pkt of step.packets) {
      this.#out.send(pkt, port, address, (err) => {
        if (err) this.#log.warn({ err: errorMessage(err) }, 'send to FFmpeg failed');
      });
    }
    if (step.switched) {
      this.#log.info({ source: step.switched, switches: this.#core.stats.switches, stepMs: Math.round(step.stepMs ?? 0) }, 'switched');
      this.emit('switched', step.switched);
    }
  }

  #askKeyframe(sourceId: string): void {
    const ask = () => {
      try {
        this.#opts.requestKeyFrame(sourceId);
      } catch (err) {
        this.#log.warn({ err, source: sourceId }, 'requestKeyFrame failed');
      }
    };
    ask();
    clearInterval(this.#keyframeTimer);
    this.#keyframeTimer = setInterval(() => {
      if (this.#core.pending === sourceId && !this.#core.holding) ask();
    }, this.#opts.keyframeRetryMs ?? 1000);
  }

  /** Timers follow the core's state: keyframe re-requests while a choice waits, a bound on holding. */
  #updateTimers(): void {
    if (this.#core.pending === undefined && this.#keyframeTimer) {
      clearInterval(this.#keyframeTimer);
      this.#keyframeTimer = undefined;
    }
    if (this.#core.holding && !this.#holdTimer) {
      this.#holdTimer = setTimeout(() => {
        this.#holdTimer = undefined;
        if (this.#closed) return;
        // The old source never finished its frame (it stopped, or the end was lost).
        this.#apply(this.#core.commit());
        this.#updateTimers();
      }, this.#opts.maxHoldMs ?? 100);
    } else if (!this.#core.holding && this.#holdTimer) {
      clearTimeout(this.#holdTimer);
      this.#holdTimer = undefined;
    }
  }

  #closeSource(source: Source): Promise<void> {
    const closed = Promise.all([source.rtp, source.rtcp].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    return closed.then(() => {
      if (source.pair) this.#opts.portPool?.release(source.pair);
    });
  }

  #assertOpen(method: string): void {
    if (this.#closed) throw new InvalidStateError(`${method}() after close()`);
  }
}

/** Binds a UDP socket (DependencyError `udp-bind` when it cannot). */
export function bindSocket(address: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: address.includes(':') ? 'udp6' : 'udp4' });
    socket.once('error', (err) => {
      socket.close();
      reject(new DependencyError('udp-bind', `cannot bind UDP ${address}:${port}: ${err.message}`, { cause: err }));
    });
    socket.bind({ address, port, exclusive: true }, () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}
