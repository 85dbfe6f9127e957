import { Writable } from 'node:stream';
import { InvalidStateError, TypedEmitter, errorMessage, type InputError, type Logger } from '../common/index.ts';
import { CmafReader } from './cmaf.ts';
import { configuredTargetDuration, type PackagerConfig } from './config.ts';
import { Segmenter, type SegmenterOptions } from './segmenter.ts';
import { SourceSession, type SessionEvent } from './sourceSession.ts';
import type { InitSegment, Part, Segment } from './types.ts';

export interface TrackEvents {
  part: [segment: Segment, part: Part];
  segment: [segment: Segment];
  init: [init: InitSegment];
  /** The source session failed (bad input); the track stops until a new session opens. */
  failed: [error: Error];
  /** A held source session has media and may be switched in (see `activate`); again when it ends held. */
  ready: [session: SourceSession];
}

interface Waiter {
  msn: number;
  part: number | undefined;
  resolve: (ok: boolean) => void;
}

/**
 * One rendition (or the audio track) of a broadcast: its segmenter, the
 * segments in memory and the waiters of blocking requests.
 */
export class Track extends TypedEmitter<TrackEvents> {
  readonly id: string;
  readonly segmenter: Segmenter;
  readonly inits = new Map<number, InitSegment>();
  /** Segment metadata, oldest first (bounded by maxRetainedSegments); bytes only for the live window. */
  readonly segments: Segment[] = [];
  /** The transcoder run behind each period: what the run's thumbnails are numbered by. */
  readonly runOfPeriod = new Map<number, number>();
  /** First segment (start, PDT) of each period: anchors DASH Periods. */
  readonly periodStarts = new Map<number, { start: number; timescale: number; pdt: number; msn: number }>();
  failure: Error | undefined;
  /** Upload state of each period's init segment (with a store). */
  readonly initUpload = new Map<number, 'pending' | 'stored' | 'dropped' | 'failed'>();
  /** Whether this track's media playlist has been written to the store (the stored multivariant playlist names only those). */
  playlistStored = false;
  /** Peak and average bitrate over complete segments, bit/s. */
  peakBitrate = 0;
  /** Longest complete segment so far, rounded to whole seconds: the TARGETDURATION high-water mark. */
  #longestSegment = 0;
  #bytes = 0;
  #seconds = 0;
  #waiters = new Set<Waiter>();
  /** Open source sessions, oldest first: at most one active, newer ones held. */
  readonly #sessions: SourceSession[] = [];
  #seq = 0;
  #stopped = false;
  readonly #config: PackagerConfig;
  readonly #logger: Logger;

  constructor(id: string, config: PackagerConfig, logger: Logger, anchor?: SegmenterOptions['anchor']) {
    super();
    this.id = id;
    this.#config = config;
    this.#logger = logger;
    this.onListenerError((event, err) => logger.error({ err, event }, 'track listener threw'));
    this.segmenter = new Segmenter({
      segmentTargetMs: config.segmentTargetMs,
      maxTimestampGapMs: config.maxTimestampGapMs,
      ...(anchor ? { anchor } : {}),
    });
    this.segmenter.onListenerError((event, err) => logger.error({ err, event }, 'segmenter listener threw'));
    this.segmenter.on('init', (init) => {
      this.inits.set(init.period, init);
      const run = this.#active?.run;
      if (run !== undefined) this.runOfPeriod.set(init.period, run);
      this.emit('init', init);
    });
    this.segmenter.on('part', (seg, part) => {
      if (part.index === 0) {
        this.segments.push(seg);
        if (!this.periodStarts.has(seg.period)) {
          this.periodStarts.set(seg.period, { start: seg.start, timescale: seg.timescale, pdt: seg.programDateTime, msn: seg.msn });
          // Where each track's period starts, in its media time and in the playlist: what a player aligns at a discontinuity.
          this.#logger.info({ period: seg.period, msn: seg.msn, mediaStart: seg.start / seg.timescale, pdt: seg.programDateTime }, 'first part of a period');
        }
        this.#trim();
      }
      this.emit('part', seg, part);
      this.#wake();
    });
    this.segmenter.on('segment', (seg) => {
      const secs = seg.duration / seg.timescale;
      this.#longestSegment = Math.max(this.#longestSegment, Math.round(secs));
      if (secs > 0) {
        this.peakBitrate = Math.max(this.peakBitrate, (seg.byteLength * 8) / secs);
        this.#bytes += seg.byteLength;
        this.#seconds += secs;
      }
      this.emit('segment', seg);
      this.#wake();
    });
  }

  get init(): InitSegment | undefined {
    return this.segmenter.init;
  }

  get kind(): 'video' | 'audio' | undefined {
    return this.segmenter.init?.info.kind;
  }

  get averageBitrate(): number {
    if (this.#seconds > 0) return (this.#bytes * 8) / this.#seconds;
    const cur = this.current;
    return cur && cur.duration > 0 ? (cur.byteLength * 8 * cur.timescale) / cur.duration : 0;
  }

  get bandwidth(): number {
    return Math.max(this.peakBitrate, this.averageBitrate);
  }

  /**
   * TARGETDURATION of the live playlist (RFC 8216bis §4.4.3.1): every EXTINF,
   * rounded, must be ≤ it, and it must not change. Segments can outgrow the
   * target (a publisher's GOP in passthrough; the segmenter cuts at 3×), so it
   * is the longest segment the track has completed in its whole life (every
   * complete segment is listed), never below the configured target: a
   * high-water mark that only grows, and only when a segment forces it.
   */
  get targetDuration(): number {
    return Math.max(configuredTargetDuration(this.#config), this.#longestSegment);
  }

  /** The newest segment (possibly in progress). */
  get current(): Segment | undefined {
    return this.segments[this.segments.length - 1];
  }

  /** Estimated frame rate from the first sample duration of the latest part. */
  frameRate: number | undefined;

  segment(msn: number): Segment | undefined {
    const first = this.segments[0];
    if (!first) return undefined;
    return this.segments[msn - first.msn];
  }

  /** Whether the playlist already holds segment `msn` (complete) or part `msn.part` (§6.2.5.2). */
  has(msn: number, part: number | undefined): boolean {
    const cur = this.current;
    if (!cur) return false;
    if (msn < cur.msn) return true;
    if (msn > cur.msn) return false;
    if (part === undefined) return cur.complete;
    return cur.parts.length > part;
  }

  /** Resolves true when `has(msn, part)` holds, false on timeout, abort or when the track stops. */
  waitForPart(msn: number, part: number | undefined, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.has(msn, part)) return Promise.resolve(true);
    if (this.#stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), timeoutMs);
      const onAbort = () => done(false);
      const waiter: Waiter = {
        msn,
        part,
        resolve: (ok) => done(ok),
      };
      const done = (ok: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters.delete(waiter);
        resolve(ok);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * A new source session: returns the Writable the CMAF bytes go into, in any
   * chunking. It is held until it has a fragment and is switched in (see
   * `activate`); `run` names the transcoder run so the broadcast can switch
   * its tracks together. The writer `end()`s it when the stream ends (a partial
   * box then is bad input) or `destroy()`s it when the stream was cut off (the
   * partial box is dropped and the session ends with what was whole).
   */
  openSession(run?: number): Writable {
    if (this.#stopped) throw new InvalidStateError(`track ${this.id} is closed`);
    const session = new SourceSession(run, this.#seq++);
    this.#sessions.push(session);
    const reader = new CmafReader({ maxBoxBytes: this.#config.maxBoxBytes });
    let failed = false;
    const fail = (err: unknown): Error => {
      const error = err instanceof Error ? err : new Error(String(err));
      if (!failed) {
        failed = true;
        this.#logger.error({ err: errorMessage(error), code: (error as InputError).code, run }, 'track failed: bad CMAF input');
        // A bad new session is dropped and the one it would have replaced goes on; the track
        // fails only when nothing else feeds it. The write's error tells the writer either way.
        const active = this.#active;
        if (session.state !== 'active') this.#drop(session, false);
        if (!active || active === session) {
          this.failure = error;
          this.segmenter.flush();
          this.emit('failed', error);
        }
      }
      return error;
    };
    // Ended by its writer, cleanly or cut off.
    const end = () => {
      session.ended = true;
      this.#onEnded(session);
    };
    const writable: Writable = new Writable({
      highWaterMark: 256 * 1024,
      write: (chunk: Buffer, _enc, cb) => {
        if (session.state === 'superseded') return cb(new InvalidStateError('superseded'));
        try {
          for (const ev of reader.push(chunk)) {
            this.#onEvent(session, ev.type === 'init' ? { type: 'init', info: ev.info, bytes: ev.bytes } : { type: 'fragment', info: ev.info, bytes: ev.bytes, now: Date.now() });
          }
          cb();
        } catch (err) {
          cb(fail(err));
        }
      },
      final: (cb) => {
        try {
          reader.end();
          end();
          cb();
        } catch (err) {
          cb(fail(err));
        }
      },
      // Destroyed by its writer, not by us (#drop supersedes first) nor by a failure: cut off,
      // its FFmpeg gone mid-write. The whole fragments stand, the partial one is dropped, and
      // the session ends as if its writer had ended it.
      destroy: (err, cb) => {
        if (!failed && !session.ended && session.state !== 'superseded') {
          const droppedBytes = reader.discardPartial();
          this.#logger.info({ run, droppedBytes, reason: err ? errorMessage(err) : undefined }, 'source session cut off by its writer');
          end();
        }
        cb(err);
      },
    });
    session.writable = writable;
    return writable;
  }

  /** The pending session of `run` that has media, if there is one. */
  readySession(run: number): SourceSession | undefined {
    return this.#sessions.find((s) => s.run === run && s.ready);
  }

  /** The run of the session feeding the track. */
  get activeRun(): number | undefined {
    return this.#active?.run;
  }

  get #active(): SourceSession | undefined {
    return this.#sessions.find((s) => s.state === 'active');
  }

  /**
   * Switches a held session in: every older session (the active one included)
   * is superseded and the held media goes to the segmenter, a discontinuity.
   */
  activate(session: SourceSession): void {
    if (session.state !== 'pending' || this.#stopped) return;
    for (const s of [...this.#sessions]) {
      if (s.seq >= session.seq) continue;
      if (s.state === 'active') this.#logger.info({ run: s.run, next: session.run }, 'source session superseded by a newer one');
      this.#drop(s);
    }
    session.state = 'active';
    this.failure = undefined;
    for (const ev of session.take()) this.#apply(ev);
    if (session.ended) this.segmenter.flush();
  }

  #onEvent(session: SourceSession, ev: SessionEvent): void {
    if (session.state === 'active') return this.#apply(ev);
    if (session.state === 'superseded') return;
    session.hold(ev);
    if (ev.type === 'fragment') this.emit('ready', session);
  }

  #apply(ev: SessionEvent): void {
    if (ev.type === 'init') {
      this.segmenter.onInit(ev.info, ev.bytes);
      return;
    }
    if (ev.info.firstSampleDuration > 0 && ev.info.keyframe !== undefined && this.kind === 'video') {
      this.frameRate = this.init!.info.timescale / ev.info.firstSampleDuration;
    }
    this.segmenter.onFragment(ev.info, ev.bytes, ev.now);
  }

  #onEnded(session: SourceSession): void {
    if (session.state === 'active') {
      this.segmenter.flush();
    } else if (session.state === 'pending') {
      // Ended before it was switched in: its media (if any, and nothing newer came) still goes out;
      // a source's session through the owner, which switches a source in on every track at once.
      const newest = this.#sessions.at(-1) === session;
      if (session.ready && newest) {
        if (session.run === undefined) this.activate(session);
        else this.emit('ready', session);
      }
      // Its writer ended it: forgotten, not destroyed, so the writer's end completes (an HTTP push gets its 204).
      else this.#drop(session, false);
    }
  }

  /** Forgets a session; a writer still pushing into it sees its stream close (no 'error' to crash on). */
  #drop(session: SourceSession, close = true): void {
    session.state = 'superseded';
    session.take();
    const i = this.#sessions.indexOf(session);
    if (i >= 0) this.#sessions.splice(i, 1);
    const w = session.writable;
    if (close && w && !w.destroyed && !w.writableFinished) w.destroy();
  }

  /** Stops the track: completes the segment in progress and releases every waiter. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const session of [...this.#sessions]) this.#drop(session);
    this.segmenter.flush();
    for (const w of [...this.#waiters]) w.resolve(this.has(w.msn, w.part));
  }

  #wake(): void {
    if (this.#waiters.size === 0) return;
    for (const w of [...this.#waiters]) if (this.has(w.msn, w.part)) w.resolve(true);
  }

  /** Drops bytes of segments older than the memory window and metadata beyond the retention bound. */
  #trim(): void {
    const cur = this.current;
    if (!cur) return;
    const ts = cur.timescale;
    // The playlist window (at least 3 target durations) plus slack for the segment in progress.
    const td = this.targetDuration * 1000;
    const windowTicks = ((Math.max(this.#config.liveWindowMs, 3 * td) + 2 * Math.max(this.#config.segmentTargetMs, td)) * ts) / 1000;
    for (let i = this.segments.length - 2; i >= 0; i--) {
      const s = this.segments[i]!;
      if (s.bytes === undefined && s.parts.length === 0) break;
      if (s.period === cur.period && cur.start - s.start < windowTicks) continue;
      if (s.period !== cur.period && this.segments.length - i < (this.#config.liveWindowMs / this.#config.segmentTargetMs) * 2) continue;
      s.bytes = undefined;
      s.parts.length = 0;
    }
    while (this.segments.length > this.#config.maxRetainedSegments) this.segments.shift();
  }
}
