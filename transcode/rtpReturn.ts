/**
 * The relay between FFmpeg's RTP copy of the program and the SFU. FFmpeg runs
 * come and go (restarts, make-before-break reconfiguration with two runs alive
 * at once); the SFU's program producers must see one stream per kind that
 * never changes SSRC, jumps or goes backwards. So every run sends here under
 * its own SSRCs (RtpReturnTarget.ssrcFor), the newest run that sends is
 * selected, and an RtpSwitchCore per kind rewrites its packets onto the
 * output's fixed SSRC, sequence and timeline: video switches at the new run's
 * first keyframe (its first frame), audio at its first packet.
 */
import type dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { InvalidStateError, type Logger } from '../common/index.ts';
import { bindSocket } from './rtpSwitch.ts';
import { RtpSwitchCore, type RtpSwitchStats, type RtpSwitchStep } from './rtpSwitchCore.ts';
import type { RtpReturnTarget } from './types.ts';

type Kind = 'video' | 'audio';

export interface RtpReturnRelayOptions {
  /** Where FFmpeg sends (and the relay's own sockets bind). */
  bindAddress: string;
  /** Payload types FFmpeg uses and the output keeps (H.264 and Opus). */
  payloadTypes?: { video: number; audio: number };
  logger: Logger;
  /** Longest a new run's keyframe waits for the old run's frame to end (ms, default 100). */
  maxHoldMs?: number;
}

/** Where the relay sends a kind: the SFU program producer's PlainTransport. */
export interface RtpReturnDestination {
  ip: string;
  port: number;
}

/** Runs are told apart by SSRC: base + 2 × run (+ 1 for audio). */
const MAX_RUNS = 1 << 20;

interface Lane {
  readonly kind: Kind;
  readonly input: dgram.Socket;
  readonly output: dgram.Socket;
  readonly core: RtpSwitchCore;
  /** The newest run heard on this lane. */
  selected: number;
  /** Runs the core knows as sources. */
  readonly sources: Set<number>;
  dest?: RtpReturnDestination;
  holdTimer?: NodeJS.Timeout;
}

export class RtpReturnRelay {
  readonly #opts: RtpReturnRelayOptions;
  readonly #log: Logger;
  readonly #base: number;
  readonly #lanes: Record<Kind, Lane>;
  readonly target: RtpReturnTarget;
  /** The output SSRCs: what the SFU's program producers must be told. */
  readonly ssrcs: { video: number; audio: number };
  readonly payloadTypes: { video: number; audio: number };
  #closed = false;

  private constructor(opts: RtpReturnRelayOptions, sockets: Record<Kind, { input: dgram.Socket; output: dgram.Socket }>) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'rtp-return' });
    // FFmpeg's -ssrc is a signed 32-bit option: every run's SSRC stays below 2^31.
    this.#base = randomInt(1, 2 ** 29) * 2;
    this.payloadTypes = opts.payloadTypes ?? { video: 96, audio: 111 };
    this.ssrcs = { video: randomInt(1, 2 ** 32 - 1), audio: randomInt(1, 2 ** 32 - 1) };
    const lane = (kind: Kind): Lane => ({
      kind,
      ...sockets[kind],
      selected: 0,
      sources: new Set(),
      core: new RtpSwitchCore({
        codec: kind === 'video' ? 'H264' : 'opus',
        payloadType: this.payloadTypes[kind],
        ssrc: this.ssrcs[kind],
        initialSequence: randomInt(0, 0x10000),
        initialTimestamp: randomInt(0, 2 ** 32 - 1),
      }),
    });
    this.#lanes = { video: lane('video'), audio: lane('audio') };
    const port = (kind: Kind) => (this.#lanes[kind].input.address() as AddressInfo).port;
    this.target = {
      address: opts.bindAddress,
      video: { port: port('video'), payloadType: this.payloadTypes.video },
      audio: { port: port('audio'), payloadType: this.payloadTypes.audio },
      ssrcFor: (run, kind) => {
        if (!Number.isInteger(run) || run < 0 || run >= MAX_RUNS) throw new RangeError(`run ${run} out of range`);
        return (this.#base + run * 2 + (kind === 'audio' ? 1 : 0)) >>> 0;
      },
    };
    for (const l of Object.values(this.#lanes)) {
      l.input.on('message', (msg) => this.#onPacket(l, msg));
      for (const s of [l.input, l.output]) s.on('error', (err) => this.#log.warn({ err, kind: l.kind }, 'socket error'));
    }
  }

  /** Binds the relay's sockets (ephemeral ports on `bindAddress`). DependencyError if they cannot be bound. */
  static async create(opts: RtpReturnRelayOptions): Promise<RtpReturnRelay> {
    const bound: dgram.Socket[] = [];
    try {
      const pair = async () => {
        const input = await bindSocket(opts.bindAddress, 0);
        bound.push(input);
        const output = await bindSocket(opts.bindAddress, 0);
        bound.push(output);
        return { input, output };
      };
      return new RtpReturnRelay(opts, { video: await pair(), audio: await pair() });
    } catch (err) {
      for (const s of bound) s.close();
      throw err;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Packets in and out per kind, and the run on air. */
  get stats(): Record<Kind, RtpSwitchStats & { run: number }> {
    const of = (l: Lane) => ({ ...l.core.stats, run: Number(l.core.active?.slice(4) ?? 0) });
    return { video: of(this.#lanes.video), audio: of(this.#lanes.audio) };
  }

  /** Starts passing packets on to the SFU; before this they are dropped. */
  connect(dest: Record<Kind, RtpReturnDestination>): void {
    if (this.#closed) throw new InvalidStateError('connect() after close()');
    this.#lanes.video.dest = dest.video;
    this.#lanes.audio.dest = dest.audio;
    this.#log.debug({ dest }, 'connected');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of Object.values(this.#lanes)) {
      clearTimeout(l.holdTimer);
      l.input.close();
      l.output.close();
    }
    this.#log.debug({ stats: this.stats }, 'closed');
  }

  #runOf(lane: Lane, ssrc: number): number | undefined {
    const d = (ssrc - this.#base) >>> 0;
    if ((d & 1) !== (lane.kind === 'audio' ? 1 : 0)) return undefined;
    const run = d >>> 1;
    return run > 0 && run < MAX_RUNS ? run : undefined;
  }

  #onPacket(lane: Lane, msg: Buffer): void {
    if (this.#closed || msg.length < 12) return;
    const run = this.#runOf(lane, msg.readUInt32BE(8));
    if (run === undefined) return; // RTCP, or not one of our runs
    const id = `run-${run}`;
    if (run > lane.selected) {
      // A newer run: it goes on air at its first keyframe; the older one flows until then.
      if (!lane.sources.has(run)) {
        lane.core.addSource(id);
        lane.sources.add(run);
      }
      lane.core.select(id);
      lane.selected = run;
    } else if (!lane.sources.has(run)) {
      return; // an older run, already switched away from
    }
    this.#apply(lane, lane.core.receive(id, msg, performance.now()));
  }

  #apply(lane: Lane, step: RtpSwitchStep): void {
    if (lane.dest) for (const p of step.packets) lane.output.send(p, lane.dest.port, lane.dest.ip);
    if (step.switched) {
      clearTimeout(lane.holdTimer);
      lane.holdTimer = undefined;
      const on = Number(step.switched.slice(4));
      this.#log.info({ kind: lane.kind, run: on }, 'program RTP switched to a new FFmpeg run');
      // Older runs will not be on air again.
      for (const s of lane.sources) {
        if (s < on) {
          lane.core.removeSource(`run-${s}`);
          lane.sources.delete(s);
        }
      }
    } else if (lane.core.holding && !lane.holdTimer) {
      // The old run may never finish its frame (it is being stopped): switch anyway after a moment.
      lane.holdTimer = setTimeout(() => {
        lane.holdTimer = undefined;
        if (!this.#closed) this.#apply(lane, lane.core.commit());
      }, this.#opts.maxHoldMs ?? 100);
    }
  }
}

