import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InputError } from '../../common/index.ts';
import { RtpSwitchCore, type RtpSwitchStep } from '../../transcode/rtpSwitchCore.ts';
import { inspectH264, isKeyframeStart, isVp8KeyframeStart, vp8KeyframeSize } from '../../transcode/rtpKeyframe.ts';
import { H264_PT, PPS, SPS, VP8_PT, h264FuA, h264Single, h264StapA, header, rtcpSenderReport, vp8Packet } from './rtpPackets.ts';

const OUT_SSRC = 0xabcdef01;

function vp8Core() {
  return new RtpSwitchCore({ codec: 'VP8', payloadType: VP8_PT, ssrc: OUT_SSRC, initialSequence: 1000, initialTimestamp: 5000 });
}

/** A VP8 sender: frames of `packets` packets, 3000 ticks (33 ms at 90 kHz) apart. */
class Vp8Sender {
  seq: number;
  frame = 0;
  constructor(
    readonly ssrc: number,
    seq: number,
    readonly ts0: number,
  ) {
    this.seq = seq;
  }
  ts(frame = this.frame): number {
    return (this.ts0 + frame * 3000) >>> 0;
  }
  /** The packets of the next frame, in order. */
  next(opts: { key?: boolean; packets?: number } = {}): Buffer[] {
    const n = opts.packets ?? 2;
    const out: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      out.push(vp8Packet({ seq: this.seq++ & 0xffff, ts: this.ts(), ssrc: this.ssrc, start: i === 0, key: opts.key ?? false, marker: i === n - 1 }));
    }
    this.frame++;
    return out;
  }
}

/** Feeds packets at time `now` and collects what went out. */
function feed(core: RtpSwitchCore, id: string, packets: Buffer[], now: number, sink: Buffer[], events: string[] = []): void {
  for (const p of packets) collect(core.receive(id, p, now), sink, events);
}
function collect(step: RtpSwitchStep, sink: Buffer[], events: string[] = []): void {
  sink.push(...step.packets);
  if (step.switched) events.push(step.switched);
}

function assertContiguous(out: Buffer[]): void {
  for (let i = 1; i < out.length; i++) {
    const d = (header(out[i]!).sequenceNumber - header(out[i - 1]!).sequenceNumber) & 0xffff;
    assert.equal(d, 1, `sequence gap between output packets ${i - 1} and ${i}`);
  }
}

describe('keyframe detection', () => {
  const payload = (buf: Buffer) => buf.subarray(header(buf).payloadOffset, header(buf).payloadEnd);

  test('VP8: only the first packet (S=1, partition 0) of a frame whose P bit is clear', () => {
    assert.equal(isVp8KeyframeStart(payload(vp8Packet({ seq: 1, ts: 0, ssrc: 1, start: true, key: true }))), true);
    assert.equal(isVp8KeyframeStart(payload(vp8Packet({ seq: 1, ts: 0, ssrc: 1, start: true, key: false }))), false);
    assert.equal(isVp8KeyframeStart(payload(vp8Packet({ seq: 1, ts: 0, ssrc: 1, start: false, key: true }))), false);
    // No extension byte, S=1 PID=0, P=0.
    assert.equal(isVp8KeyframeStart(Uint8Array.from([0x10, 0x50, 0x01, 0x00])), true);
    // S=1 but partition index 1: not the frame's first packet.
    assert.equal(isVp8KeyframeStart(Uint8Array.from([0x11, 0x50, 0x01, 0x00])), false);
    // 7-bit PictureID, TL0PICIDX and TID/KEYIDX present: the payload header is found after all of them.
    assert.equal(isVp8KeyframeStart(Uint8Array.from([0x90, 0xf0, 0x05, 0x07, 0x40, 0x50, 0x01, 0x00])), true);
    assert.equal(isVp8KeyframeStart(Uint8Array.from([0x90, 0xf0, 0x05, 0x07, 0x40, 0x51, 0x01, 0x00])), false);
    // Truncated descriptors are not keyframes (and do not throw).
    for (const bad of [[], [0x90], [0x90, 0x80], [0x90, 0x80, 0x80], [0x10, 0x50]]) assert.equal(isVp8KeyframeStart(Uint8Array.from(bad)), false);
    assert.deepEqual(vp8KeyframeSize(payload(vp8Packet({ seq: 1, ts: 0, ssrc: 1, start: true, key: true, width: 640, height: 360 }))), { width: 640, height: 360 });
  });

  test('H.264: IDR or SPS as a single NAL, inside a STAP-A, or as an FU-A start', () => {
    const p = (buf: Buffer) => payload(buf);
    const s = { seq: 1, ts: 0, ssrc: 1 };
    assert.equal(inspectH264(p(h264Single(s, SPS))).keyframeStart, true);
    assert.equal(inspectH264(p(h264Single(s, Uint8Array.from([0x65, 0x88])))).keyframeStart, true); // IDR
    assert.equal(inspectH264(p(h264Single(s, Uint8Array.from([0x41, 0x9a])))).keyframeStart, false); // non-IDR slice
    assert.equal(inspectH264(p(h264Single(s, PPS))).keyframeStart, false);
    const stap = inspectH264(p(h264StapA(s, [SPS, PPS])));
    assert.equal(stap.keyframeStart, true);
    assert.equal(stap.hasSps, true);
    assert.deepEqual(stap.sps && [...stap.sps], [...SPS]);
    assert.deepEqual(stap.pps && [...stap.pps], [...PPS]);
    assert.equal(inspectH264(p(h264StapA(s, [Uint8Array.from([0x06, 0x05]), Uint8Array.from([0x65, 0x88])]))).keyframeStart, true); // SEI + IDR
    assert.equal(inspectH264(p(h264FuA({ ...s, type: 5, start: true }))).keyframeStart, true);
    assert.equal(inspectH264(p(h264FuA({ ...s, type: 5, start: false }))).keyframeStart, false);
    assert.equal(inspectH264(p(h264FuA({ ...s, type: 1, start: true }))).keyframeStart, false);
    assert.equal(isKeyframeStart('H264', Uint8Array.from([0x18, 0x00, 0x09])), false); // truncated STAP-A
  });
});

describe('RtpSwitchCore rewriting', () => {
  test('the first selection starts the output at a keyframe, with the output SSRC and initial numbers', () => {
    const core = vp8Core();
    core.addSource('a');
    assert.equal(core.select('a'), 'pending');
    const a = new Vp8Sender(0x1111, 40000, 123456);
    const out: Buffer[] = [];
    const events: string[] = [];
    feed(core, 'a', a.next(), 0, out, events);
    assert.equal(out.length, 0, 'no output before a keyframe');
    feed(core, 'a', a.next({ key: true }), 33, out, events);
    feed(core, 'a', a.next(), 66, out, events);
    assert.deepEqual(events, ['a']);
    assert.equal(core.active, 'a');
    assert.equal(out.length, 4);
    assert.deepEqual(out.map((p) => header(p).sequenceNumber), [1000, 1001, 1002, 1003]);
    assert.deepEqual(out.map((p) => header(p).timestamp), [5000, 5000, 8000, 8000]);
    assert.ok(out.every((p) => header(p).ssrc === OUT_SSRC));
    assert.deepEqual(core.stats, { forwarded: 4, dropped: 2, switches: 1, rtcp: 0 });
  });

  test('across a switch sequence numbers continue by one and the timestamp advances by the elapsed wall-clock time', () => {
    const core = vp8Core();
    core.addSource('a');
    core.addSource('b');
    const a = new Vp8Sender(0x1111, 100, 1_000_000);
    const b = new Vp8Sender(0x2222, 60000, 3_000_000_000);
    const out: Buffer[] = [];
    const events: string[] = [];
    core.select('a');
    let now = 0;
    feed(core, 'a', a.next({ key: true }), now, out, events);
    for (let i = 0; i < 5; i++) feed(core, 'a', a.next(), (now += 33), out, events);
    const lastA = header(out.at(-1)!);
    core.select('b');
    assert.equal(core.active, 'a', 'the old source stays until the keyframe');
    feed(core, 'b', b.next(), now + 5, out, events); // B's delta frame: ignored
    feed(core, 'a', a.next(), (now += 33), out, events); // A still on air
    const lastAFrameArrival = now;
    const lastATs = header(out.at(-1)!).timestamp;
    assert.equal(header(out.at(-1)!).sequenceNumber, (lastA.sequenceNumber + 2) & 0xffff);
    const switchAt = now + 20;
    const firstB = out.length;
    feed(core, 'b', b.next({ key: true, packets: 3 }), switchAt, out, events);
    feed(core, 'a', a.next(), switchAt + 1, out, events); // after the switch point: never forwarded
    feed(core, 'b', b.next(), switchAt + 33, out, events);
    assert.deepEqual(events, ['a', 'b']);
    assertContiguous(out);
    const keyTs = header(out[firstB]!).timestamp;
    assert.equal(keyTs - lastATs, (switchAt - lastAFrameArrival) * 90, 'timestamp step = elapsed ms × 90');
    // B's next frame keeps B's own spacing.
    assert.equal(header(out.at(-1)!).timestamp - keyTs, 3000);
    assert.ok(out.every((p) => header(p).ssrc === OUT_SSRC));
    assert.equal(core.stats.switches, 2);
  });

  test('the switch waits for the old source to finish its frame, then old packets stop exactly there', () => {
    const core = vp8Core();
    core.addSource('a');
    core.addSource('b');
    const a = new Vp8Sender(0x1111, 10, 0);
    const b = new Vp8Sender(0x2222, 500, 0);
    const out: Buffer[] = [];
    const events: string[] = [];
    core.select('a');
    feed(core, 'a', a.next({ key: true }), 0, out, events);
    core.select('b');
    const aFrame = a.next({ packets: 3 });
    const bKey = b.next({ key: true, packets: 2 });
    // Interleaved on the wire: A's frame is half sent when B's keyframe arrives.
    feed(core, 'a', [aFrame[0]!], 33, out, events);
    feed(core, 'b', [bKey[0]!], 34, out, events);
    assert.equal(core.holding, true);
    assert.equal(core.active, 'a');
    feed(core, 'a', [aFrame[1]!], 35, out, events);
    feed(core, 'b', [bKey[1]!], 35, out, events);
    assert.equal(events.length, 1, 'no switch in the middle of the old frame');
    feed(core, 'a', [aFrame[2]!], 36, out, events); // A's marker: the switch happens right after it
    feed(core, 'a', a.next(), 66, out, events);
    assert.deepEqual(events, ['a', 'b']);
    assertContiguous(out);
    // Output: A key (2) + A frame (3) + B key (2); A's next frame is dropped.
    assert.equal(out.length, 7);
    assert.equal(header(out[4]!).marker, true);
    assert.notEqual(header(out[5]!).timestamp, header(out[4]!).timestamp);
  });

  test("an old frame that never ends (its next frame starts) does not delay the switch further", () => {
    const core = vp8Core();
    core.addSource('a');
    core.addSource('b');
    const a = new Vp8Sender(0x1111, 10, 0);
    const b = new Vp8Sender(0x2222, 500, 0);
    const out: Buffer[] = [];
    core.select('a');
    feed(core, 'a', a.next({ key: true }), 0, out);
    core.select('b');
    feed(core, 'a', [a.next({ packets: 3 })[0]!], 33, out); // its marker packet is lost
    feed(core, 'b', b.next({ key: true }), 34, out);
    assert.equal(core.holding, true);
    feed(core, 'a', a.next(), 66, out); // A's next frame: switch first, drop it
    assert.equal(core.active, 'b');
    assertContiguous(out);
    assert.equal(out.length, 2 + 1 + 2);
    // Or the caller's timer gives up holding: commit() switches at once.
    core.select('a');
    feed(core, 'b', [b.next({ packets: 2 })[0]!], 100, out);
    feed(core, 'a', a.next({ key: true }), 101, out);
    assert.equal(core.holding, true);
    collect(core.commit(), out);
    assert.equal(core.active, 'a');
    assertContiguous(out);
  });

  test('reordered packets of the active source keep their relative order; late ones from before the switch point are dropped', () => {
    const core = vp8Core();
    core.addSource('a');
    core.select('a');
    const s = 0x1111;
    const out: Buffer[] = [];
    feed(core, 'a', [vp8Packet({ seq: 20, ts: 0, ssrc: s, start: true, key: true, marker: true })], 0, out);
    feed(core, 'a', [vp8Packet({ seq: 19, ts: 0, ssrc: s })], 1, out); // before the switch point
    feed(
      core,
      'a',
      [
        vp8Packet({ seq: 21, ts: 3000, ssrc: s, start: true }),
        vp8Packet({ seq: 23, ts: 3000, ssrc: s, marker: true }),
        vp8Packet({ seq: 22, ts: 3000, ssrc: s }),
        vp8Packet({ seq: 24, ts: 6000, ssrc: s, start: true, marker: true }),
      ],
      33,
      out,
    );
    assert.deepEqual(out.map((p) => header(p).sequenceNumber), [1000, 1001, 1003, 1002, 1004]);
    assert.deepEqual(out.map((p) => header(p).timestamp), [5000, 8000, 8000, 8000, 11000]);
    assert.equal(core.stats.dropped, 1);
  });

  test('sequence numbers and timestamps wrap around', () => {
    const core = new RtpSwitchCore({ codec: 'VP8', payloadType: VP8_PT, ssrc: OUT_SSRC, initialSequence: 65534, initialTimestamp: 0xffffff00 });
    core.addSource('a');
    core.select('a');
    const a = new Vp8Sender(0x1111, 65535, 0xfffff000);
    const out: Buffer[] = [];
    feed(core, 'a', a.next({ key: true }), 0, out);
    feed(core, 'a', a.next(), 33, out);
    assert.deepEqual(out.map((p) => header(p).sequenceNumber), [65534, 65535, 0, 1]);
    assert.deepEqual(out.map((p) => header(p).timestamp), [0xffffff00, 0xffffff00, 3000 - 0x100, 3000 - 0x100]);
  });

  test('RTCP, other payload types and malformed datagrams are never forwarded', () => {
    const core = vp8Core();
    core.addSource('a');
    core.select('a');
    const a = new Vp8Sender(0x1111, 1, 0);
    const out: Buffer[] = [];
    feed(core, 'a', a.next({ key: true }), 0, out);
    const before = out.length;
    assert.deepEqual(core.receive('a', rtcpSenderReport(0x1111), 1), { packets: [] });
    assert.equal(core.receive('a', vp8Packet({ seq: 3, ts: 3000, ssrc: 0x1111, start: true, pt: 127 }), 2).refused, 'payload-type');
    assert.equal(core.receive('a', Buffer.from([0x80, 0x60, 0x00]), 3).refused, 'malformed');
    assert.equal(core.receive('nobody', a.next()[0]!, 4).packets.length, 0);
    assert.equal(out.length, before);
    assert.equal(core.stats.rtcp, 1);
    assert.equal(core.stats.dropped, 2);
  });

  test('removing the active source pauses the output; the next source continues the numbering', () => {
    const core = vp8Core();
    core.addSource('a');
    core.addSource('b');
    const a = new Vp8Sender(0x1111, 1, 0);
    const b = new Vp8Sender(0x2222, 9000, 77);
    const out: Buffer[] = [];
    core.select('a');
    feed(core, 'a', a.next({ key: true }), 0, out);
    feed(core, 'a', a.next(), 33, out);
    const last = header(out.at(-1)!);
    core.removeSource('a');
    assert.equal(core.active, undefined);
    feed(core, 'a', a.next(), 66, out);
    feed(core, 'b', b.next({ key: true }), 70, out);
    assert.equal(out.length, 4, 'nothing goes out while no source is selected');
    core.select('b');
    feed(core, 'b', b.next(), 1033, out);
    feed(core, 'b', b.next({ key: true }), 1066, out);
    assert.equal(core.active, 'b');
    assertContiguous(out);
    assert.equal(header(out[4]!).timestamp - last.timestamp, (1066 - 33) * 90, 'the pause shows as elapsed time, not as a jump');
    assert.equal(core.removeSource('zzz').packets.length, 0);
    assert.throws(() => core.select('a'), (err: unknown) => err instanceof InputError && err.code === 'unknown-source');
    assert.throws(() => core.addSource('b'), (err: unknown) => err instanceof InputError && err.code === 'duplicate-source');
  });

  test('removing the old source while a keyframe is held switches at once; re-selecting the active source cancels a pending switch', () => {
    const core = vp8Core();
    core.addSource('a');
    core.addSource('b');
    const a = new Vp8Sender(0x1111, 1, 0);
    const b = new Vp8Sender(0x2222, 1, 0);
    const out: Buffer[] = [];
    core.select('a');
    feed(core, 'a', a.next({ key: true }), 0, out);
    core.select('b');
    assert.equal(core.select('a'), 'active');
    assert.equal(core.pending, undefined);
    feed(core, 'b', b.next({ key: true }), 10, out);
    assert.equal(core.active, 'a', 'the cancelled choice does not switch');
    core.select('b');
    feed(core, 'a', [a.next({ packets: 2 })[0]!], 33, out);
    feed(core, 'b', b.next({ key: true }), 34, out);
    assert.equal(core.holding, true);
    const step = core.removeSource('a');
    assert.equal(step.switched, 'b');
    out.push(...step.packets);
    assertContiguous(out);
  });

  test('a new SSRC on the active source resynchronises on its next keyframe', () => {
    const core = vp8Core();
    core.addSource('a');
    core.select('a');
    const a1 = new Vp8Sender(0x1111, 1, 0);
    const a2 = new Vp8Sender(0x9999, 30000, 999999);
    const out: Buffer[] = [];
    feed(core, 'a', a1.next({ key: true }), 0, out);
    const step = core.receive('a', a2.next()[0]!, 33);
    assert.equal(step.needsKeyframe, 'a');
    feed(core, 'a', a2.next(), 66, out);
    feed(core, 'a', a2.next({ key: true }), 100, out);
    assert.equal(out.length, 4);
    assertContiguous(out);
    assert.equal(header(out[2]!).timestamp - header(out[0]!).timestamp, 100 * 90);
  });
});

describe('RtpSwitchCore with H.264', () => {
  const core = () => new RtpSwitchCore({ codec: 'H264', payloadType: H264_PT, ssrc: OUT_SSRC, initialSequence: 0, initialTimestamp: 0 });
  const nalTypes = (out: Buffer[]) =>
    out.map((p) => {
      const h = header(p);
      const t = p[h.payloadOffset]! & 0x1f;
      return t === 28 ? `FU-A(${p[h.payloadOffset + 1]! & 0x1f})` : t === 24 ? 'STAP-A' : String(t);
    });

  test('switches at a STAP-A carrying SPS+PPS ahead of the IDR', () => {
    const c = core();
    c.addSource('a');
    c.select('a');
    const s = { ssrc: 5, ts: 9000 };
    const out: Buffer[] = [];
    feed(c, 'a', [h264FuA({ ...s, seq: 1, type: 1, start: true }), h264FuA({ ...s, seq: 2, type: 1, end: true, marker: true })], 0, out);
    feed(c, 'a', [h264StapA({ ...s, seq: 3, ts: 12000 }, [SPS, PPS]), h264FuA({ ...s, seq: 4, ts: 12000, type: 5, start: true }), h264FuA({ ...s, seq: 5, ts: 12000, type: 5, end: true, marker: true })], 33, out);
    assert.deepEqual(nalTypes(out), ['STAP-A', 'FU-A(5)', 'FU-A(5)']);
    assertContiguous(out);
  });

  test('an IDR that arrives without an SPS gets the source’s last SPS and PPS replayed before it, same timestamp', () => {
    const c = core();
    c.addSource('a');
    c.addSource('b');
    c.select('a');
    const out: Buffer[] = [];
    feed(c, 'a', [h264Single({ ssrc: 5, seq: 1, ts: 0 }, SPS), h264Single({ ssrc: 5, seq: 2, ts: 0 }, PPS), h264FuA({ ssrc: 5, seq: 3, ts: 0, type: 5, start: true, end: true, marker: true })], 0, out);
    c.select('b');
    // B's IDR without any parameter sets seen: unusable, no switch.
    feed(c, 'b', [h264FuA({ ssrc: 6, seq: 100, ts: 0, type: 5, start: true, end: true, marker: true })], 10, out);
    assert.equal(c.active, 'a');
    // B's parameter sets pass by (while A is on air), its next keyframe has none in front.
    feed(c, 'b', [h264StapA({ ssrc: 6, seq: 101, ts: 3000 }, [SPS, PPS])], 20, out);
    assert.equal(c.active, 'b', 'an SPS is itself a switch point');
    feed(c, 'b', [h264FuA({ ssrc: 6, seq: 102, ts: 3000, type: 5, start: true, end: true, marker: true })], 20, out);
    c.select('a');
    feed(c, 'a', [h264FuA({ ssrc: 5, seq: 4, ts: 3000, type: 1, start: true, end: true, marker: true })], 33, out);
    assert.equal(c.active, 'b');
    feed(c, 'a', [h264FuA({ ssrc: 5, seq: 5, ts: 6000, type: 5, start: true }), h264FuA({ ssrc: 5, seq: 6, ts: 6000, type: 5, end: true, marker: true })], 66, out);
    assert.equal(c.active, 'a');
    const tail = out.slice(-4);
    assert.deepEqual(nalTypes(tail), ['7', '8', 'FU-A(5)', 'FU-A(5)']);
    assert.equal(new Set(tail.map((p) => header(p).timestamp)).size, 1);
    assertContiguous(out);
  });
});

describe('RtpSwitchCore with hostile input', () => {
  test('arbitrary datagrams and RTP from two sources never throw, and everything sent carries the output SSRC and payload type', () => {
    const rtpLike = fc.record({
      source: fc.constantFrom('a', 'b', 'c'),
      seq: fc.integer({ min: 0, max: 0xffff }),
      ts: fc.integer({ min: 0, max: 0xffffffff }),
      ssrc: fc.constantFrom(1, 2, 3),
      start: fc.boolean(),
      key: fc.boolean(),
      marker: fc.boolean(),
      pt: fc.constantFrom(VP8_PT, VP8_PT, VP8_PT, 127),
    });
    const op = fc.oneof(
      rtpLike.map((p) => ({ kind: 'rtp' as const, ...p })),
      fc.record({ kind: fc.constant('junk' as const), source: fc.constantFrom('a', 'b'), bytes: fc.uint8Array({ maxLength: 40 }) }),
      fc.record({ kind: fc.constant('select' as const), source: fc.constantFrom('a', 'b') }),
      fc.record({ kind: fc.constant('commit' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const core = vp8Core();
        core.addSource('a');
        core.addSource('b');
        const out: Buffer[] = [];
        let now = 0;
        for (const o of ops) {
          now += 5;
          if (o.kind === 'rtp') collect(core.receive(o.source, vp8Packet(o), now), out);
          else if (o.kind === 'junk') collect(core.receive(o.source, Buffer.from(o.bytes), now), out);
          else if (o.kind === 'select') core.select(o.source);
          else collect(core.commit(), out);
        }
        for (const p of out) {
          const h = header(p);
          assert.equal(h.ssrc, OUT_SSRC);
          assert.equal(h.payloadType, VP8_PT);
        }
        const s = core.stats;
        assert.equal(s.forwarded, out.length);
      }),
      { numRuns: 300 },
    );
  });
});
