// The source-session switch of one track (packager/track.ts), make before
// break, driven with synthetic CMAF and no FFmpeg: a table of scripts (open,
// write, end, switch in, stop) and the exact outcome of each: the segments
// (session, discontinuity, parts, complete), the track's events, the blocking
// waiters' answers, which writers were closed, the active and ready sources.
// A new session is held until it is switched in (`activate`); the broadcast
// decides when (test/packager/sessionSwitch.test.ts covers that, with FFmpeg;
// the last rows here cover it with synthetic media).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Writable } from 'node:stream';
import { silentLogger } from '../../common/index.ts';
import { parsePackagerConfig } from '../../packager/config.ts';
import { Track } from '../../packager/track.ts';
import type { SourceSession } from '../../packager/sourceSession.ts';
import { createPackager, type Broadcast } from '../../packager/index.ts';
import { AUDIO, VIDEO, fragments, initSegment, write, type SyntheticTrack } from './syntheticCmaf.ts';

const CONFIG = parsePackagerConfig({ segmentTargetMs: 1000 });

/** A session's writer and where its media stands: each session's media starts 10 s after the previous one's. */
interface Writer {
  readonly w: Writable;
  readonly source: number | undefined;
  readonly seq: number;
  readonly offsetTicks: number;
  next: number;
}

/** One track and the named sessions of a script; `outcome()` is what a row expects. */
class Script {
  readonly track = new Track('video', CONFIG, silentLogger());
  readonly #log: string[] = [];
  readonly #writers = new Map<string, Writer>();
  /** The SourceSession behind each name, once it was ready (the 'ready' event hands it over). */
  readonly #sessions = new Map<string, SourceSession>();
  readonly #readyEvents = new Map<string, number>();
  readonly #abort = new AbortController();

  constructor() {
    this.track.on('init', (init) => this.#log.push(`init ${init.period}`));
    this.track.on('failed', (err) => this.#log.push(`failed: ${err.message}`));
    this.track.on('ready', (session) => {
      const name = [...this.#writers].find(([, w]) => w.seq === session.seq)![0];
      this.#sessions.set(name, session);
      this.#readyEvents.set(name, (this.#readyEvents.get(name) ?? 0) + 1);
    });
  }

  open(name: string, source?: number): void {
    const w = this.track.openSession(source);
    w.on('error', () => {}); // the write's callback reports it
    const seq = this.#writers.size;
    this.#writers.set(name, { w, source, seq, offsetTicks: seq * 900_000, next: 0 });
  }

  async init(name: string): Promise<void> {
    await this.#write(name, initSegment(VIDEO));
  }

  /** The session's next `count` parts (200 ms each, a keyframe every 5). */
  async parts(name: string, count: number): Promise<void> {
    const wr = this.#writers.get(name)!;
    const list = fragments(VIDEO, wr.next, count, { offsetTicks: wr.offsetTicks });
    wr.next += count;
    for (const f of list) await this.#write(name, f);
  }

  async garbage(name: string): Promise<void> {
    await this.#write(name, Buffer.from('not a CMAF stream, just text that goes on for a while'));
  }

  /** The writer ends its stream (FFmpeg exits); logged when the stream closes without finishing (its end callback never comes then). */
  async end(name: string): Promise<void> {
    const { w } = this.#writers.get(name)!;
    await new Promise<void>((resolve) => {
      w.once('close', () => {
        if (!w.writableFinished) this.#log.push(`${name} closed before its end finished`);
        resolve();
      });
      w.end(() => resolve());
    });
  }

  /** The writer writes only the start of its next part: up to inside the mdat, or inside the first box header. */
  async partial(name: string, inside: 'mdat' | 'header'): Promise<void> {
    const wr = this.#writers.get(name)!;
    const [next] = fragments(VIDEO, wr.next, 1, { offsetTicks: wr.offsetTicks });
    await this.#write(name, next!.subarray(0, inside === 'mdat' ? next!.length - 10 : 5));
  }

  /** The writer is cut off (FFmpeg killed): it destroys its stream. Logged if the writer then sees an error. */
  async cutOff(name: string): Promise<void> {
    const { w } = this.#writers.get(name)!;
    w.once('error', (err) => this.#log.push(`${name} error: ${err.message}`));
    await new Promise<void>((resolve) => w.destroy().once('close', resolve));
  }

  /** A session switched in on its first part, then `parts` parts in all: the track's feed. */
  async running(name: string, source: number, parts: number): Promise<void> {
    this.open(name, source);
    await this.init(name);
    await this.parts(name, 1);
    this.activate(name);
    await this.parts(name, parts - 1);
  }

  activate(name: string): void {
    this.track.activate(this.#sessions.get(name)!);
  }

  /** A blocking request for part `msn.part` (or the whole segment): its answer goes into the log. */
  wait(label: string, msn: number, part?: number): void {
    void this.track.waitForPart(msn, part, 60_000, this.#abort.signal).then((ok) => this.#log.push(`${label} ${ok}`));
  }

  async #write(name: string, bytes: Buffer): Promise<void> {
    try {
      await write(this.#writers.get(name)!.w, bytes);
    } catch (err) {
      this.#log.push(`${name} refused: ${(err as { code?: string }).code ?? (err as Error).message}`);
    }
  }

  outcome() {
    const names = [...this.#writers.keys()];
    return {
      segments: this.track.segments.map((s) => `${s.msn} s${s.period}${s.discontinuity ? ' disc' : ''} dsn${s.discontinuitySequence} ${s.parts.length}p ${s.complete ? 'complete' : 'open'}`),
      log: this.#log,
      active: this.track.activeRun,
      readyNow: names.filter((n) => {
        const src = this.#writers.get(n)!.source;
        return src !== undefined && this.track.readySession(src) !== undefined;
      }),
      readyEvents: Object.fromEntries(this.#readyEvents),
      // Destroyed before it finished: closed by the track, or by its own error.
      closed: names.filter((n) => this.#writers.get(n)!.w.destroyed && !this.#writers.get(n)!.w.writableFinished),
      failure: this.track.failure?.message,
      sources: Object.fromEntries(this.track.runOfPeriod),
    };
  }

  /** Releases the waiters still pending (their timers). */
  close(): void {
    this.#abort.abort();
    this.track.stop();
  }
}

type Outcome = ReturnType<Script['outcome']>;

interface Row {
  name: string;
  run(s: Script): Promise<void>;
  /** The outcome; left out: nothing ready now, no writer closed, no failure. */
  expect: Omit<Outcome, 'readyNow' | 'closed' | 'failure'> & Partial<Outcome>;
}

const NOTHING_ELSE = { readyNow: [], closed: [], failure: undefined };

const ROWS: Row[] = [
  {
    name: 'the first session: an init alone is held, a fragment makes it ready; switched in, its init and parts go out in order, then it feeds the track directly',
    async run(s) {
      s.open('A', 1);
      await s.init('A');
      assert.equal(s.track.readySession(1), undefined, 'an init alone is not media');
      await s.parts('A', 7);
      assert.equal(s.track.segments.length, 0, 'held until switched in');
      s.activate('A');
      await s.parts('A', 3);
    },
    expect: {
      segments: ['0 s0 dsn0 5p complete', '1 s0 dsn0 5p open'],
      log: ['init 0'],
      active: 1,
      readyEvents: { A: 7 },
      sources: { 0: 1 },
    },
  },
  {
    name: 'make before break: the old session feeds the track until the new one is switched in; then a discontinuity, the held parts, waiters on the old segment answered, the old writer closed',
    async run(s) {
      await s.running('A', 1, 8);
      s.open('B', 2);
      await s.init('B');
      await s.parts('A', 2);
      await s.parts('B', 2);
      await s.parts('A', 1); // a keyframe: segment 2 starts, still from A
      assert.equal(s.track.activeRun, 1);
      s.wait('part 2.1', 2, 1); // the old session's next part never comes: answered by the next segment
      s.wait('part 3.0', 3, 0);
      s.activate('B');
      await s.parts('A', 1); // the old writer is closed
    },
    expect: {
      segments: ['0 s0 dsn0 5p complete', '1 s0 dsn0 5p complete', '2 s0 dsn0 1p complete', '3 s1 disc dsn1 2p open'],
      log: ['init 0', 'init 1', 'part 2.1 true', 'part 3.0 true', 'A refused: ERR_STREAM_DESTROYED'],
      active: 2,
      readyEvents: { A: 1, B: 2 },
      closed: ['A'],
      sources: { 0: 1, 1: 2 },
    },
  },
  {
    name: 'the old session ends before the new one has media: its segment completes, the track waits (a blocking request too) and the new one starts after a discontinuity',
    async run(s) {
      await s.running('A', 1, 7);
      s.open('B', 2);
      await s.init('B');
      await s.end('A');
      s.wait('part 2.0', 2, 0);
      await s.parts('B', 1);
      s.activate('B');
    },
    expect: {
      segments: ['0 s0 dsn0 5p complete', '1 s0 dsn0 2p complete', '2 s1 disc dsn1 1p open'],
      log: ['init 0', 'init 1', 'part 2.0 true'],
      active: 2,
      readyEvents: { A: 1, B: 1 },
      sources: { 0: 1, 1: 2 },
    },
  },
  {
    name: 'a new session without a source number (an HTTP push) that ends before it was switched in, with media and nothing newer: it switches itself in, its media goes out and its last segment completes',
    async run(s) {
      await s.running('A', 1, 6);
      s.open('B');
      await s.init('B');
      await s.parts('B', 3);
      await s.end('B');
    },
    expect: {
      segments: ['0 s0 dsn0 5p complete', '1 s0 dsn0 1p complete', '2 s1 disc dsn1 3p complete'],
      log: ['init 0', 'init 1'],
      active: undefined,
      readyEvents: { A: 1, B: 3 },
      closed: ['A'],
      sources: { 0: 1 },
    },
  },
  {
    // The broadcast switches a source in on every track at once (see the Broadcast tests below): a track alone must not.
    name: 'a source\'s new session that ends before it was switched in, with media and nothing newer: held, and offered to the owner once more (ready) to switch in',
    async run(s) {
      await s.running('A', 1, 6);
      s.open('B', 2);
      await s.init('B');
      await s.parts('B', 3);
      await s.end('B');
      assert.deepEqual(s.outcome().readyNow, ['B']);
      s.activate('B');
    },
    expect: {
      segments: ['0 s0 dsn0 5p complete', '1 s0 dsn0 1p complete', '2 s1 disc dsn1 3p complete'],
      log: ['init 0', 'init 1'],
      active: 2,
      readyEvents: { A: 1, B: 4 },
      closed: ['A'],
      sources: { 0: 1, 1: 2 },
    },
  },
  {
    // Its writer's end completes ('finish', then 'close'): it was once destroyed from within its own end,
    // which pipeline() calls a premature close (an HTTP push then got a 409 for a clean end).
    name: 'a new session that ends without media is dropped, its writer\'s end completing: the old one goes on, no discontinuity',
    async run(s) {
      await s.running('A', 1, 6);
      s.open('B', 2);
      await s.init('B');
      await s.end('B');
      await s.parts('A', 4);
    },
    expect: {
      segments: ['0 s0 dsn0 5p complete', '1 s0 dsn0 5p open'],
      log: ['init 0'],
      active: 1,
      readyEvents: { A: 1 },
      sources: { 0: 1 },
    },
  },
  {
    name: 'a session that never gets media is superseded with the active one when a newer session is switched in; its init never goes out',
    async run(s) {
      await s.running('A', 1, 5);
      s.open('B', 2);
      await s.init('B');
      s.open('C', 3);
      await s.init('C');
      await s.parts('C', 2);
      s.activate('C');
      await s.parts('B', 1);
    },
    expect: {
      segments: ['0 s0 dsn0 5p complete', '1 s1 disc dsn1 2p open'],
      log: ['init 0', 'init 1', 'B refused: ERR_STREAM_DESTROYED'],
      active: 3,
      readyEvents: { A: 1, C: 2 },
      closed: ['A', 'B'],
      sources: { 0: 1, 1: 3 },
    },
  },
  {
    name: 'switching in an older ready session leaves a newer one held; switching that one in later is a second discontinuity',
    async run(s) {
      await s.running('A', 1, 5);
      s.open('B', 2);
      await s.init('B');
      await s.parts('B', 2);
      s.open('C', 3);
      await s.init('C');
      await s.parts('C', 2);
      s.activate('B');
      assert.deepEqual(s.outcome().readyNow, ['C'], 'C is still held');
      await s.parts('B', 1);
      s.activate('C');
    },
    expect: {
      segments: ['0 s0 dsn0 5p complete', '1 s1 disc dsn1 3p complete', '2 s2 disc dsn2 2p open'],
      log: ['init 0', 'init 1', 'init 2'],
      active: 3,
      readyEvents: { A: 1, B: 2, C: 2 },
      closed: ['A', 'B'],
      sources: { 0: 1, 1: 2, 2: 3 },
    },
  },
  {
    name: 'switching in a session that is not held (active already, or superseded) changes nothing',
    async run(s) {
      await s.running('A', 1, 1);
      s.open('B', 2);
      await s.init('B');
      await s.parts('B', 1);
      s.activate('B');
      s.activate('B');
      s.activate('A');
      await s.parts('B', 1);
    },
    expect: {
      segments: ['0 s0 dsn0 1p complete', '1 s1 disc dsn1 2p open'],
      log: ['init 0', 'init 1'],
      active: 2,
      readyEvents: { A: 1, B: 1 },
      closed: ['A'],
      sources: { 0: 1, 1: 2 },
    },
  },
  {
    name: 'bad CMAF in a new session: that write fails and the session is dropped, the old one goes on; in the only session: the track fails until a new session is switched in',
    async run(s) {
      await s.running('A', 1, 3);
      s.open('B', 2);
      await s.garbage('B');
      await s.parts('A', 2);
      assert.equal(s.track.failure, undefined);
      await s.garbage('A');
      assert.match(String(s.outcome().failure), /not a CMAF stream/);
      s.open('C', 3);
      await s.init('C');
      await s.parts('C', 1);
      s.activate('C');
    },
    expect: {
      segments: ['0 s0 dsn0 5p complete', '1 s1 disc dsn1 1p open'],
      log: ['init 0', 'B refused: cmaf-bad-box', 'failed: unexpected top-level box "a CM": not a CMAF stream', 'A refused: cmaf-bad-box', 'init 1'],
      active: 3,
      readyEvents: { A: 1, C: 1 },
      closed: ['A', 'B'],
      sources: { 0: 1, 1: 3 },
    },
  },
  {
    name: 'the active session cut off by its writer inside a fragment (FFmpeg killed): its whole parts stand, the partial one is dropped, its segment completes, no failure; the next session follows after a discontinuity',
    async run(s) {
      await s.running('A', 1, 7);
      await s.partial('A', 'mdat');
      await s.cutOff('A');
      assert.equal(s.track.segments.at(-1)?.complete, true, 'the segment completes at the cut');
      s.open('B', 2);
      await s.init('B');
      await s.parts('B', 1);
      s.activate('B');
    },
    expect: {
      segments: ['0 s0 dsn0 5p complete', '1 s0 dsn0 2p complete', '2 s1 disc dsn1 1p open'],
      log: ['init 0', 'init 1'],
      active: 2,
      readyEvents: { A: 1, B: 1 },
      closed: ['A'],
      sources: { 0: 1, 1: 2 },
    },
  },
  {
    name: 'a new session cut off inside a box header, with media and nothing newer: like a clean end, it is offered to the owner once more (ready) and switches in with its whole parts',
    async run(s) {
      await s.running('A', 1, 6);
      s.open('B', 2);
      await s.init('B');
      await s.parts('B', 2);
      await s.partial('B', 'header');
      await s.cutOff('B');
      assert.deepEqual(s.outcome().readyNow, ['B']);
      s.activate('B');
    },
    expect: {
      segments: ['0 s0 dsn0 5p complete', '1 s0 dsn0 1p complete', '2 s1 disc dsn1 2p complete'],
      log: ['init 0', 'init 1'],
      active: 2,
      readyEvents: { A: 1, B: 3 },
      closed: ['A', 'B'],
      sources: { 0: 1, 1: 2 },
    },
  },
  {
    name: 'a clean end inside a fragment is bad input, not a cut-off: the new session is refused and dropped with its whole part, the old one goes on',
    async run(s) {
      await s.running('A', 1, 3);
      s.open('B', 2);
      await s.init('B');
      await s.parts('B', 1);
      await s.partial('B', 'mdat');
      await s.end('B');
      await s.parts('A', 1);
    },
    expect: {
      segments: ['0 s0 dsn0 4p open'],
      log: ['init 0', 'B closed before its end finished'],
      active: 1,
      readyEvents: { A: 1, B: 1 },
      closed: ['B'],
      sources: { 0: 1 },
    },
  },
  {
    name: 'stop: the segment in progress completes, waiters get what the playlist holds, every writer is closed, no session opens after',
    async run(s) {
      await s.running('A', 1, 7);
      s.open('B', 2);
      await s.init('B');
      await s.parts('B', 1);
      s.wait('part 1.3', 1, 3);
      s.wait('segment 1', 1);
      s.wait('part 2.0', 2, 0);
      s.track.stop();
      assert.throws(() => s.track.openSession(3), { name: 'InvalidStateError' });
      s.wait('part 2.0 after stop', 2, 0);
      await new Promise((resolve) => setImmediate(resolve));
    },
    expect: {
      segments: ['0 s0 dsn0 5p complete', '1 s0 dsn0 2p complete'],
      log: ['init 0', 'segment 1 true', 'part 1.3 false', 'part 2.0 false', 'part 2.0 after stop false'],
      active: undefined,
      readyEvents: { A: 1, B: 1 },
      closed: ['A', 'B'],
      sources: { 0: 1 },
    },
  },
];

for (const row of ROWS) {
  test(`Track: ${row.name}`, async () => {
    const s = new Script();
    try {
      await row.run(s);
      assert.deepEqual(s.outcome(), { ...NOTHING_ELSE, ...row.expect });
    } finally {
      s.close();
    }
  });
}

// The broadcast's part: a session with a source number switches in on every track together.

async function feed(w: Writable, track: SyntheticTrack, from: number, count: number, opts: { init?: boolean; offsetTicks?: number } = {}): Promise<void> {
  if (opts.init) await write(w, initSegment(track));
  for (const f of fragments(track, from, count, { offsetTicks: opts.offsetTicks ?? 0 })) await write(w, f);
}

const summary = (b: Broadcast, id: string) => b.track(id)!.segments.map((s) => `${s.msn} s${s.period}${s.discontinuity ? ' disc' : ''} ${s.parts.length}p`);

test('Broadcast: a new source switches in on video and audio at once, when both have its media; each then counts one discontinuity at the same segment number', async () => {
  const b = createPackager({ segmentTargetMs: 1000 }, { logger: silentLogger() }).createBroadcast('together', { expectedTracks: ['video', 'audio'] });
  const switched: number[] = [];
  b.on('sourceSwitched', (source) => switched.push(source));
  // Each track's init segment as its session goes on air, with what it carries (the app checks copied sizes with it).
  const inits: string[] = [];
  b.on('init', (trackId, init) => inits.push(`${trackId} s${init.period} ${init.info.codec} ${init.info.height ?? ''}`.trim()));
  const [v1, a1] = [b.openTrack('video', 1), b.openTrack('audio', 1)];
  await feed(v1, VIDEO, 0, 7, { init: true });
  assert.deepEqual(switched, [], 'the first run is announced only once audio has media too');
  await feed(a1, AUDIO, 0, 7, { init: true });
  assert.deepEqual(switched, [1]);
  const [v2, a2] = [b.openTrack('video', 2), b.openTrack('audio', 2)];
  await feed(a2, AUDIO, 0, 2, { init: true, offsetTicks: 480_000 });
  assert.equal(b.track('audio')!.activeRun, 1, 'audio waits for video');
  assert.deepEqual(switched, [1], 'run 2 is not announced while video has none of its media');
  await feed(v1, VIDEO, 7, 1);
  await feed(a1, AUDIO, 7, 1);
  await feed(v2, VIDEO, 0, 1, { init: true, offsetTicks: 900_000 });
  assert.deepEqual(switched, [1, 2], 'announced once, when both tracks switched');
  assert.deepEqual(summary(b, 'video'), ['0 s0 5p', '1 s0 3p', '2 s1 disc 1p']);
  assert.deepEqual(summary(b, 'audio'), ['0 s0 5p', '1 s0 3p', '2 s1 disc 2p']);
  assert.ok(v1.destroyed && a1.destroyed, 'the old run\'s writers are closed');
  await feed(v2, VIDEO, 1, 1, { offsetTicks: 900_000 });
  assert.deepEqual(switched, [1, 2], 'more media of the same run announces nothing');
  assert.deepEqual(inits, ['video s0 avc1.42c01e 360', 'audio s0 mp4a.40.2', 'video s1 avc1.42c01e 360', 'audio s1 mp4a.40.2'], 'run 2\'s held audio init comes out at the switch');
  b.end();
});

test('Broadcast: a track whose sibling never gets the new source\'s media switches alone after two segment durations of waiting', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 0, 1) });
  const b = createPackager({ segmentTargetMs: 1000 }, { logger: silentLogger() }).createBroadcast('alone', { expectedTracks: ['video', 'audio'] });
  const switched: number[] = [];
  b.on('sourceSwitched', (source) => switched.push(source));
  await feed(b.openTrack('video', 1), VIDEO, 0, 5, { init: true });
  await feed(b.openTrack('audio', 1), AUDIO, 0, 5, { init: true });
  b.openTrack('video', 2); // opened, never any media
  const a2 = b.openTrack('audio', 2);
  await feed(a2, AUDIO, 0, 1, { init: true, offsetTicks: 480_000 });
  t.mock.timers.tick(2000);
  await feed(a2, AUDIO, 1, 1, { offsetTicks: 480_000 });
  assert.equal(b.track('audio')!.activeRun, 1, 'two segment durations: still waiting');
  t.mock.timers.tick(1);
  await feed(a2, AUDIO, 2, 1, { offsetTicks: 480_000 });
  assert.equal(b.track('audio')!.activeRun, 2, 'switched alone');
  assert.equal(b.track('video')!.activeRun, 1);
  assert.deepEqual(switched, [1], 'run 2 is not announced while video still takes run 1: its FFmpeg must stay');
  assert.deepEqual(summary(b, 'audio'), ['0 s0 5p', '1 s1 disc 3p']);
  b.end();
});

test('Broadcast: a session without a source number (an HTTP push) switches in alone at its first fragment', async () => {
  const b = createPackager({ segmentTargetMs: 1000 }, { logger: silentLogger() }).createBroadcast('push', { expectedTracks: ['video', 'audio'] });
  const switched: number[] = [];
  b.on('sourceSwitched', (source) => switched.push(source));
  const first = b.openTrack('video');
  await feed(first, VIDEO, 0, 3, { init: true });
  const second = b.openTrack('video');
  await write(second, initSegment(VIDEO));
  assert.deepEqual(summary(b, 'video'), ['0 s0 3p'], 'an init alone switches nothing');
  await feed(second, VIDEO, 0, 1, { offsetTicks: 900_000 });
  assert.deepEqual(summary(b, 'video'), ['0 s0 3p', '1 s1 disc 1p']);
  assert.ok(first.destroyed);
  assert.deepEqual(switched, [], 'a push without a source number is no transcoder run');
  b.end();
});

/** Each discontinuity period of a track: its Discontinuity Sequence Number and the source it came from, in playlist order. */
const periods = (b: Broadcast, id: string) => {
  const t = b.track(id)!;
  return [...new Set(t.segments.map((s) => `dsn${s.discontinuitySequence} run ${t.runOfPeriod.get(s.period)}`))];
};

const ended = (w: Writable) => new Promise<void>((resolve) => w.end(() => resolve()));

/** A video and audio broadcast on run 1 (7 parts each), and the runs it announces as switched in. */
async function onRunOne(id: string): Promise<{ b: Broadcast; switched: number[] }> {
  const b = createPackager({ segmentTargetMs: 1000 }, { logger: silentLogger() }).createBroadcast(id, { expectedTracks: ['video', 'audio'] });
  const switched: number[] = [];
  b.on('sourceSwitched', (source) => switched.push(source));
  await feed(b.openTrack('video', 1), VIDEO, 0, 7, { init: true });
  await feed(b.openTrack('audio', 1), AUDIO, 0, 7, { init: true });
  return { b, switched };
}

// RFC 8216bis §6.2.4: matching content in the renditions has matching Discontinuity Sequence Numbers; hls.js
// pairs each audio period with the video period of the same number (it times audio by that video's start).
test('Broadcast: a run that ends before its video has media is not switched in on audio alone; the next run is the same discontinuity on both tracks', async () => {
  const { b, switched } = await onRunOne('ended');
  // Run 2 is stopped while it starts (a newer program): its audio came, its video never did.
  const [v2, a2] = [b.openTrack('video', 2), b.openTrack('audio', 2)];
  await write(v2, initSegment(VIDEO));
  await feed(a2, AUDIO, 0, 2, { init: true });
  await ended(a2);
  await ended(v2);
  assert.equal(b.track('audio')!.activeRun, 1, 'audio stays on run 1');
  const [v3, a3] = [b.openTrack('video', 3), b.openTrack('audio', 3)];
  await feed(a3, AUDIO, 0, 2, { init: true });
  await feed(v3, VIDEO, 0, 2, { init: true });
  assert.deepEqual(periods(b, 'video'), ['dsn0 run 1', 'dsn1 run 3']);
  assert.deepEqual(periods(b, 'audio'), periods(b, 'video'));
  assert.deepEqual(switched, [1, 3]);
  b.end();
});

test('Broadcast: a run that ends with media on every track before it was switched in goes out on all of them together', async () => {
  const { b, switched } = await onRunOne('ended-all');
  const [v2, a2] = [b.openTrack('video', 2), b.openTrack('audio', 2)];
  await feed(a2, AUDIO, 0, 3, { init: true });
  await ended(a2);
  assert.equal(b.track('audio')!.activeRun, 1, 'audio waits for video, ended or not');
  await feed(v2, VIDEO, 0, 3, { init: true });
  await ended(v2);
  assert.deepEqual(summary(b, 'video'), ['0 s0 5p', '1 s0 2p', '2 s1 disc 3p']);
  assert.deepEqual(summary(b, 'audio'), ['0 s0 5p', '1 s0 2p', '2 s1 disc 3p']);
  assert.ok(b.track('video')!.segments.every((s) => s.complete) && b.track('audio')!.segments.every((s) => s.complete), "the ended run's last segments complete");
  assert.deepEqual(periods(b, 'audio'), periods(b, 'video'));
  assert.deepEqual(switched, [1, 2]);
  b.end();
});
