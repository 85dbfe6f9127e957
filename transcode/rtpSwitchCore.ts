/**
 * The rules of the RTP video switch, without sockets or timers: which packets
 * go out and how they are rewritten so the receiver sees one continuous stream.
 * Time comes in as an argument (ms); the caller owns clocks and I/O.
 *
 * - One output SSRC. Each source gets a sequence offset and a timestamp offset
 *   when it becomes active, so output sequence numbers continue with no gap and
 *   output timestamps advance by the wall-clock time elapsed at the switch.
 * - A selected source becomes active only at the first packet of one of its
 *   keyframes; the old source flows until then, and until the frame it is in the
 *   middle of is complete (so the receiver never gets half a frame).
 * - For H.264 the parameter sets precede the IDR: a keyframe that arrives
 *   without an SPS gets the source's last SPS/PPS replayed before it.
 */
import { InputError } from '../common/index.ts';
import { inspectH264, isKeyframeStart, type SwitchCodec } from './rtpKeyframe.ts';
import { buildRtpPacket, isRtcpPacket, parseRtpHeader, rewriteRtpHeader, seqDiff, tsDiff, type RtpHeader } from './rtpPacket.ts';

export interface RtpSwitchCoreOptions {
  codec: SwitchCodec;
  payloadType: number;
  /** SSRC of the output stream (fixed for its whole life). */
  ssrc: number;
  /** Sequence number and timestamp of the first output packet. */
  initialSequence: number;
  initialTimestamp: number;
  /** RTP clock rate of the codec (video: 90 kHz). */
  clockRate?: number;
  /** Packets of the new source held while the old source finishes its frame; more commits the switch at once. */
  maxHeldPackets?: number;
}

export interface RtpSwitchStats {
  /** Packets sent to the output (replayed parameter sets included). */
  forwarded: number;
  /** RTP packets received and not sent: inactive sources, before a switch point, wrong payload type, malformed. */
  dropped: number;
  /** Times the output changed source. */
  switches: number;
  /** RTCP packets received on source ports (never forwarded as media). */
  rtcp: number;
}

/** What one input step produced. */
export interface RtpSwitchStep {
  /** Packets to send, in this order. */
  readonly packets: Buffer[];
  /** The output switched to this source. */
  readonly switched?: string;
  /** At a switch: ms between the last output frame and the new source's keyframe (the timestamp step). */
  readonly stepMs?: number;
  /** This source needs a keyframe (its stream restarted under a new SSRC). */
  readonly needsKeyframe?: string;
  /** The packet was refused for this reason (for rate-limited logging). */
  readonly refused?: 'payload-type' | 'malformed';
}

interface SourceState {
  readonly id: string;
  /** SSRC, sequence and timestamp offsets, fixed when the source last became active. */
  ssrc: number;
  seqOffset: number;
  tsOffset: number;
  /** Input sequence number of the switch point: earlier packets never go out. */
  startSeq: number;
  sps?: Buffer;
  pps?: Buffer;
}

interface Held {
  readonly buf: Buffer;
  readonly h: RtpHeader;
  readonly arrival: number;
}

interface Pending {
  readonly id: string;
  /** The keyframe's first packet and what follows it, once it has arrived. */
  held?: Held[];
  /** Replay SPS/PPS before the IDR. */
  replayParameterSets?: boolean;
}

const EMPTY: RtpSwitchStep = { packets: [] };

export class RtpSwitchCore {
  readonly #opts: Required<RtpSwitchCoreOptions>;
  readonly #sources = new Map<string, SourceState>();
  #active: SourceState | undefined;
  #pending: Pending | undefined;
  // Output state: the highest sequence number and timestamp sent, when that
  // timestamp's first packet arrived, and whether its frame is still incomplete.
  #started = false;
  #outSeq = 0;
  #outTs = 0;
  #outTsArrival = 0;
  #frameOpen = false;
  readonly stats: RtpSwitchStats = { forwarded: 0, dropped: 0, switches: 0, rtcp: 0 };

  constructor(opts: RtpSwitchCoreOptions) {
    if (!Number.isInteger(opts.payloadType) || opts.payloadType < 0 || opts.payloadType > 127) throw new TypeError(`invalid payload type ${opts.payloadType}`);
    if (opts.codec !== 'VP8' && opts.codec !== 'H264' && opts.codec !== 'opus') throw new TypeError(`unsupported codec ${String(opts.codec)}`);
    this.#opts = { clockRate: opts.codec === 'opus' ? 48000 : 90000, maxHeldPackets: 1000, ...opts };
  }

  get active(): string | undefined {
    return this.#active?.id;
  }

  /** The selected source waiting for its keyframe, if any. */
  get pending(): string | undefined {
    return this.#pending?.id;
  }

  /** The new source's keyframe is held until the old source's frame completes (the caller bounds this in time). */
  get holding(): boolean {
    return this.#pending?.held !== undefined;
  }

  has(id: string): boolean {
    return this.#sources.has(id);
  }

  addSource(id: string): void {
    if (this.#sources.has(id)) throw new InputError('duplicate-source', `source ${id} already added`, 409);
    this.#sources.set(id, { id, ssrc: 0, seqOffset: 0, tsOffset: 0, startSeq: 0 });
  }

  /**
   * Forgets a source. If it was active the output pauses (sequence and time
   * continue from where they stopped at the next switch); if another source's
   * keyframe was held for it, that switch happens now.
   */
  removeSource(id: string): RtpSwitchStep {
    if (!this.#sources.delete(id)) return EMPTY;
    if (this.#pending?.id === id) this.#pending = undefined;
    if (this.#active?.id !== id) return EMPTY;
    this.#active = undefined;
    this.#frameOpen = false;
    return this.#pending?.held ? this.commit() : EMPTY;
  }

  /**
   * Chooses the source to send. Returns `'active'` when it already is (any other
   * pending choice is cancelled), `'pending'` when it waits for a keyframe.
   */
  select(id: string): 'active' | 'pending' {
    if (!this.#sources.has(id)) throw new InputError('unknown-source', `no source ${id}`, 404);
    if (this.#active?.id === id && this.#pending?.id !== id) {
      this.#pending = undefined;
      return 'active';
    }
    if (this.#pending?.id !== id) this.#pending = { id };
    return 'pending';
  }

  /** A datagram on a source's RTCP port: counted; nothing there is ever media. */
  receiveControl(id: string, buf: Buffer): void {
    if (!this.#sources.has(id)) return;
    if (isRtcpPacket(buf)) this.stats.rtcp++;
    else this.stats.dropped++;
  }

  /** One datagram from a source's RTP port (RTCP muxed there is recognised and not forwarded). */
  receive(id: string, buf: Buffer, now: number): RtpSwitchStep {
    const source = this.#sources.get(id);
    if (!source) return EMPTY;
    if (isRtcpPacket(buf)) {
      this.stats.rtcp++;
      return EMPTY;
    }
    const h = parseRtpHeader(buf);
    if (!h) return this.#drop('malformed');
    if (h.payloadType !== this.#opts.payloadType) return this.#drop('payload-type');
    const payload = buf.subarray(h.payloadOffset, h.payloadEnd);
    let hasSps = false;
    if (this.#opts.codec === 'H264') {
      const info = inspectH264(payload);
      if (info.sps) source.sps = info.sps;
      if (info.pps) source.pps = info.pps;
      hasSps = info.hasSps;
    }

    const pending = this.#pending;
    if (pending?.id === id) {
      if (!pending.held) {
        if (!isKeyframeStart(this.#opts.codec, payload)) return this.#drop();
        // H.264: an IDR without an SPS ahead of it decodes only with the source's parameter sets.
        if (this.#opts.codec === 'H264' && !hasSps && !(source.sps && source.pps)) return this.#drop();
        pending.held = [{ buf, h, arrival: now }];
        pending.replayParameterSets = this.#opts.codec === 'H264' && !hasSps;
        // Switch now unless the active source is in the middle of a frame.
        if (!this.#active || !this.#frameOpen || this.#active.id === id) return this.commit();
        return EMPTY;
      }
      const first = pending.held[0]!;
      if (h.ssrc !== first.h.ssrc || seqDiff(h.sequenceNumber, first.h.sequenceNumber) < 0) return this.#drop();
      pending.held.push({ buf, h, arrival: now });
      return pending.held.length >= this.#opts.maxHeldPackets ? this.commit() : EMPTY;
    }

    const active = this.#active;
    if (active?.id !== id) return this.#drop();
    if (h.ssrc !== active.ssrc) {
      // The source restarted as a new stream: its numbering means nothing to us
      // any more. Re-synchronise on its next keyframe, like a fresh selection.
      if (!this.#pending) {
        this.#pending = { id };
        return { packets: [], needsKeyframe: id };
      }
      return this.#drop();
    }
    if (seqDiff(h.sequenceNumber, active.startSeq) < 0) return this.#drop();
    const outTs = (h.timestamp + active.tsOffset) >>> 0;
    if (pending?.held && outTs !== this.#outTs && tsDiff(outTs, this.#outTs) > 0) {
      // The old source moved on to its next frame: its last one was whole (or
      // its end was lost); switch before this frame begins.
      this.#drop();
      return this.commit();
    }
    this.#forward(active, buf, h, now);
    if (pending?.held && !this.#frameOpen) {
      // That was the end of the old source's frame: the held keyframe follows it.
      const step = this.commit();
      return { ...step, packets: [buf, ...step.packets] };
    }
    return { packets: [buf] };
  }

  /**
   * Makes the pending source active at its held keyframe: now, whatever the old
   * source is doing (the caller calls this when holding has lasted too long).
   */
  commit(): RtpSwitchStep {
    const pending = this.#pending;
    const held = pending?.held;
    const source = pending && this.#sources.get(pending.id);
    if (!pending || !held || !source) return EMPTY;
    const key = held[0]!;
    const packets: Buffer[] = [];
    // Timestamps: continue from the last output frame by the wall-clock time
    // between its arrival and the keyframe's, so the receiver sees no jump.
    const stepMs = this.#started ? key.arrival - this.#outTsArrival : 0;
    const outTs = this.#started
      ? (this.#outTs + Math.max(1, Math.round((stepMs * this.#opts.clockRate) / 1000))) >>> 0
      : this.#opts.initialTimestamp >>> 0;
    let seq = this.#started ? (this.#outSeq + 1) & 0xffff : this.#opts.initialSequence & 0xffff;
    if (pending.replayParameterSets && source.sps && source.pps) {
      for (const nal of [source.sps, source.pps]) {
        const pkt = buildRtpPacket({ payloadType: this.#opts.payloadType, marker: false, sequenceNumber: seq, timestamp: outTs, ssrc: this.#opts.ssrc }, nal);
        this.#noteOutput(seq, outTs, false, key.arrival);
        packets.push(pkt);
        this.stats.forwarded++;
        seq = (seq + 1) & 0xffff;
      }
    }
    source.ssrc = key.h.ssrc;
    source.startSeq = key.h.sequenceNumber;
    source.seqOffset = (seq - key.h.sequenceNumber) & 0xffff;
    source.tsOffset = (outTs - key.h.timestamp) >>> 0;
    this.#active = source;
    this.#pending = undefined;
    this.#frameOpen = false;
    this.stats.switches++;
    for (const p of held) {
      this.#forward(source, p.buf, p.h, p.arrival);
      packets.push(p.buf);
    }
    return { packets, switched: source.id, stepMs };
  }

  #forward(source: SourceState, buf: Buffer, h: RtpHeader, arrival: number): void {
    const seq = (h.sequenceNumber + source.seqOffset) & 0xffff;
    const ts = (h.timestamp + source.tsOffset) >>> 0;
    rewriteRtpHeader(buf, seq, ts, this.#opts.ssrc);
    this.#noteOutput(seq, ts, h.marker, arrival);
    this.stats.forwarded++;
  }

  #noteOutput(seq: number, ts: number, marker: boolean, arrival: number): void {
    if (!this.#started) {
      this.#started = true;
      this.#outSeq = seq;
      this.#outTs = ts;
      this.#outTsArrival = arrival;
      this.#frameOpen = this.#opensFrame(marker);
      return;
    }
    // Late packets keep their place (their sequence numbers say where they go)
    // and move neither the highest sequence number nor the highest timestamp.
    if (seqDiff(seq, this.#outSeq) > 0) {
      this.#outSeq = seq;
      this.#frameOpen = this.#opensFrame(marker);
    }
    if (tsDiff(ts, this.#outTs) > 0) {
      this.#outTs = ts;
      this.#outTsArrival = arrival;
    }
  }

  /** A video frame ends at its marker bit; every Opus packet is a whole frame. */
  #opensFrame(marker: boolean): boolean {
    return this.#opts.codec === 'opus' ? false : !marker;
  }

  #drop(refused?: RtpSwitchStep['refused']): RtpSwitchStep {
    this.stats.dropped++;
    return refused ? { packets: [], refused } : EMPTY;
  }
}
