import type { ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import type ffmpeg from 'fluent-ffmpeg';
import { DependencyError, InvalidStateError, TypedEmitter, errorMessage, type Logger } from '../common/index.ts';
import { fluentCommand, type FfmpegPlan } from './args.ts';
import type { ProgramInput } from './compose.ts';
import { chooseLayout, type TrackLayout } from './layout.ts';
import { StreamSinkBridge } from './bridge.ts';
import type { TranscodeConfig } from './config.ts';
import { DecodeErrorWatcher, type DecodeErrorStats } from './decodeErrors.ts';
import { LineRing, errorSummary, parseProgressLine } from './progress.ts';
import { checkFfmpeg, checkReachable, waitUdpBound } from './preflight.ts';
import { nextRestart } from './restartPolicy.ts';
import { checkProgram, runPlan } from './runPlan.ts';
import { OUTPUT_FAILED, startError, type WithStderr } from './ffmpegErrors.ts';
import type { CmafSink, ExitInfo, KeyframeRequester, RtpReturnTarget, TrackInfo, TranscodeProgress, TranscoderEvents, TranscoderState } from './types.ts';

export interface TranscoderOptions {
  /** Parsed once with `parseTranscodeConfig`. */
  readonly config: TranscodeConfig;
  /**
   * What goes on air: the RTP of the program's hosts (one or several, in a
   * layout) or the slate; `reconfigure()` replaces it while running. The first
   * program also decides the broadcast's tracks (`chooseLayout`).
   */
  readonly program: ProgramInput;
  /** Where the CMAF tracks go. */
  readonly sink: CmafSink;
  /** Asked for a keyframe on every (re)start, on a stall, and every segment in passthrough. */
  readonly keyframes?: KeyframeRequester;
  /** Every session also sends the program as RTP there (WHEP viewers); off when absent. */
  readonly rtpReturn?: RtpReturnTarget;
  readonly logger: Logger;
  /** For logs (usually the broadcast id). */
  readonly id?: string;
}

interface Run {
  readonly session: number;
  /** This session copies the host's video. */
  readonly copies: boolean;
  readonly command: ffmpeg.FfmpegCommand;
  /** FFmpeg's stdin: the SDP is written when the run is activated. */
  readonly sdpInput: PassThrough;
  /** Given its SDP (a standby is not, until a restart needs it). */
  activated: boolean;
  onRunning: () => void;
  readonly runningPromise: Promise<void>;
  proc?: ChildProcess;
  pid?: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  requested: boolean;
  exit?: ExitInfo;
  readonly exited: Promise<ExitInfo>;
  lastOutTimeMs: number;
  lastAdvanceAt: number;
  running: boolean;
  /** Tracks whose first fragment reached the in-process sink; `flowing` resolves when all have. */
  readonly fragmentTracks: Set<string>;
  readonly flowing: Promise<void>;
  onFlowing: () => void;
}

/** How long a reconfigured-away FFmpeg gets between SIGTERM and SIGKILL. */
const RECONFIGURE_KILL_GRACE_MS = 1000;

const verifiedBinaries = new Map<string, Promise<string>>();

/**
 * Checks an FFmpeg binary once per process (`-version`); a failed check is
 * forgotten so the next start checks again. Callers may warm it at start-up so
 * the first broadcast does not pay for it (on a loaded machine the check alone
 * can take seconds).
 */
export function verifyFfmpeg(ffmpegPath: string): Promise<string> {
  let check = verifiedBinaries.get(ffmpegPath);
  if (!check) {
    check = checkFfmpeg(ffmpegPath);
    verifiedBinaries.set(ffmpegPath, check);
    check.catch(() => verifiedBinaries.delete(ffmpegPath));
  }
  return check;
}

/**
 * Supervises FFmpeg for one broadcast: RTP in (per the SDP), one CMAF track per
 * rung and for audio out. States: starting → running ⇄ stalled → restarting →
 * starting …, and stopped (after close() or when retries run out, `died`).
 * Every FFmpeg (re)start is a new session: the sink sees new requests/streams
 * per track (a discontinuity for the packager).
 */
export class Transcoder extends TypedEmitter<TranscoderEvents> {
  readonly id: string;
  readonly #opts: TranscoderOptions;
  readonly #log: Logger;
  #program: ProgramInput;
  /** The tracks every session makes, decided from the first program. */
  readonly #layout: TrackLayout;
  /** RTP ports FFmpeg binds for the current input (keyframes are requested once they are bound). */
  #ports: number[];
  readonly #stderr: LineRing;
  readonly #tracks: TrackInfo[];
  #state: TranscoderState = 'stopped';
  #startCalled = false;
  #closed = false;
  #session = 0;
  #attempt = 0;
  #run?: Run;
  #standby?: Run;
  #bridge?: StreamSinkBridge;
  #watchdog?: NodeJS.Timeout;
  #keyframeTimer?: NodeJS.Timeout;
  #restartTimer?: NodeJS.Timeout;
  #owedKeyframeTimer?: NodeJS.Timeout;
  #lastProgress?: TranscodeProgress;
  /** The starting session was stopped by reconfigure(): its failure is no failure. */
  #preempted = false;
  readonly #decodeErrors: DecodeErrorWatcher;

  constructor(opts: TranscoderOptions) {
    super();
    this.#opts = opts;
    this.id = opts.id ?? 'transcode';
    this.#log = opts.logger.child({ role: 'transcode', broadcast: this.id });
    this.onListenerError((event, err) => this.#log.error({ err, event }, 'listener failed'));
    this.#ports = checkProgram(opts.program); // InputError('bad-sdp' | 'bad-program')
    this.#program = opts.program;
    this.#layout = chooseLayout(opts.config, opts.program);
    this.#stderr = new LineRing(opts.config.supervision.stderrLines);
    this.#decodeErrors = new DecodeErrorWatcher(opts.config.supervision.keyframeOnDecodeError.minIntervalMs);
    this.#tracks = this.#plan(0).outputs.map((o) => o.track);
  }

  get state(): TranscoderState {
    return this.#state;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The CMAF tracks every session produces. */
  get tracks(): readonly TrackInfo[] {
    return this.#tracks;
  }

  /** PID of the current FFmpeg process, if one is alive. */
  get pid(): number | undefined {
    return this.#run && !this.#run.exit ? this.#run.pid : undefined;
  }

  /** The current FFmpeg session (1 for the first process). */
  get session(): number {
    return this.#session;
  }

  get lastProgress(): TranscodeProgress | undefined {
    return this.#lastProgress;
  }

  /** Decode errors FFmpeg reported (all sessions) and the keyframe requests they led to. */
  get decodeStats(): DecodeErrorStats {
    return this.#decodeErrors.stats;
  }

  /** The last stderr lines of FFmpeg (bounded). */
  stderrTail(): string[] {
    return this.#stderr.lines();
  }

  /** The argv of the first session (for logs and golden tests). */
  plan(): FfmpegPlan {
    return this.#plan(1);
  }

  /**
   * Checks the binary and the packager, starts FFmpeg and resolves once output
   * advances. Rejects with a typed error (InputError `bad-sdp`, DependencyError
   * `ffmpeg-missing`, `packager-unreachable`, `rtp-port-in-use`, `start-timeout`, `ffmpeg-failed`)
   * and leaves nothing running when the first start fails.
   */
  async start(): Promise<void> {
    if (this.#closed) throw new InvalidStateError(`start() after close() [id:${this.id}]`);
    if (this.#startCalled) throw new InvalidStateError(`start() called twice [id:${this.id}]`);
    this.#startCalled = true;
    this.#log.debug('start()');
    const { config, sink } = this.#opts;
    try {
      await verifyFfmpeg(config.ffmpegPath);
      const firstTrack = this.#tracks[0];
      if (sink.kind === 'http' && firstTrack) await checkReachable(sink.urlFor(firstTrack.trackId), config.output.httpTimeoutMs);
      if (sink.kind === 'stream') {
        this.#bridge = await StreamSinkBridge.start(sink, this.#log, (info) => {
          const run = this.#run;
          if (run?.session === info.session) {
            run.lastAdvanceAt = Date.now();
            if (info.type === 'moof' && !run.fragmentTracks.has(info.trackId)) {
              run.fragmentTracks.add(info.trackId);
              if (run.fragmentTracks.size >= this.#tracks.length) run.onFlowing();
            }
          }
          this.emit('box', info);
        });
      }
      if (this.#closed) throw new InvalidStateError(`closed while starting [id:${this.id}]`);
      await this.#launch();
    } catch (err) {
      await this.#shutdown();
      this.#setState('stopped');
      throw err;
    }
    this.#watchdog = setInterval(() => this.#checkStall(), Math.max(50, Math.floor(config.supervision.stallTimeoutMs / 4)));
    if (this.#layout.kind !== 'ladder') {
      // Copied video's keyframes come from the host: ask for one every segment while a session copies
      // (of every layer at once, so the renditions' segments start together).
      this.#keyframeTimer = setInterval(() => {
        if (this.#run?.copies) this.#requestKeyFrame('segment');
      }, config.segmentDurationMs);
    }
  }

  /** Stops FFmpeg (SIGTERM, SIGKILL after the grace period). Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#log.debug('close()');
    await this.#shutdown();
    this.#setState('stopped');
  }

  async #shutdown(): Promise<void> {
    clearInterval(this.#watchdog);
    clearInterval(this.#keyframeTimer);
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#owedKeyframeTimer);
    const standby = this.#standby;
    this.#standby = undefined;
    await Promise.all([this.#run && this.#stopProcess(this.#run), standby && this.#stopProcess(standby)]);
    await this.#bridge?.close();
    this.#bridge = undefined;
  }

  /** The program being transcoded. */
  get program(): ProgramInput {
    return this.#program;
  }

  /** The broadcast's tracks: a ladder, or one video track copied while it can be. */
  get layout(): TrackLayout {
    return this.#layout;
  }

  /** Whether the current session copies the host's video (no video encode). */
  get copiesVideo(): boolean {
    return this.#run?.copies ?? false;
  }

  /**
   * Replaces the program (hosts joined or left, layout changed) and restarts
   * FFmpeg with it, make before break: the new session starts while the current
   * one still runs and is stopped once the new one's output flows (the packager
   * takes the newer session of each track). Resolves then; a session that fails
   * to start is retried by the supervisor like any other, and a newer program
   * given while one is starting replaces it at once.
   */
  async reconfigure(program: ProgramInput): Promise<void> {
    if (this.#closed) throw new InvalidStateError(`reconfigure() after close() [id:${this.id}]`);
    if (!this.#startCalled) throw new InvalidStateError(`reconfigure() before start() [id:${this.id}]`);
    const ports = checkProgram(program);
    this.#program = program;
    this.#ports = ports;
    const standby = this.#standby;
    this.#standby = undefined;
    if (standby) void this.#stopProcess(standby);
    if (this.#state === 'restarting') return; // the pending restart plans with the new program
    if (this.#state === 'starting') {
      // A session of the old program is starting: stop it, the supervisor restarts at once
      // with the new one (not counted as a failure).
      if (this.#run && !this.#run.exit) {
        this.#preempted = true;
        await this.#stopProcess(this.#run, Math.min(this.#opts.config.supervision.killGraceMs, RECONFIGURE_KILL_GRACE_MS));
      }
      return;
    }
    this.#setState('restarting');
    this.emit('restart', { attempt: 0, delayMs: 0, reason: 'reconfigured' });
    this.#log.info({ videos: program.compose.videos.length, audios: program.compose.audios }, 'reconfigure()');
    // Make before break: the new program's FFmpeg starts (on its own RTP ports) while the
    // old one still feeds the packager; its first output supersedes the old session
    // there, and only then is the old one stopped. Viewers see no gap, only the
    // discontinuity. The old one's input may be dead already (a host left): FFmpeg then
    // ignores SIGTERM, and its unflushed tail is not worth waiting for.
    const previous = this.#run;
    const stopPrevious = () => previous && this.#stopProcess(previous, Math.min(this.#opts.config.supervision.killGraceMs, RECONFIGURE_KILL_GRACE_MS));
    for (;;) {
      try {
        await this.#launch();
        await this.#untilFlowing(this.#run!);
        break;
      } catch (err) {
        if (!this.#closed && this.#preempted) {
          // A newer program stopped this start (see above): start that one, the previous still on air.
          this.#preempted = false;
          continue;
        }
        await stopPrevious();
        if (this.#closed) return;
        this.#scheduleRestart(`restart after reconfigure failed: ${errorMessage(err)}`);
        throw err;
      }
    }
    await stopPrevious();
  }

  /**
   * Waits until the session's fragments reach the in-process packager on every
   * track (it switches its tracks to the new session then), so the previous FFmpeg
   * feeds viewers until that moment. Bounded by the start timeout; an HTTP sink
   * gives no such signal, and FFmpeg's progress has to do.
   */
  async #untilFlowing(run: Run): Promise<void> {
    if (!this.#bridge) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([run.flowing, run.exited, new Promise<void>((r) => (timer = setTimeout(r, this.#opts.config.supervision.startTimeoutMs)))]);
    clearTimeout(timer);
  }

  #plan(session: number): FfmpegPlan {
    const { config, sink, rtpReturn } = this.#opts;
    const endpoint = this.#bridge;
    return runPlan({ config, layout: this.#layout, program: this.#program, sink, ...(endpoint ? { endpoint } : {}), ...(rtpReturn ? { rtpReturn } : {}) }, session);
  }

  /** The SDP FFmpeg reads on stdin, if its input has one. */
  #sdp(): string | undefined {
    return this.#program.sdp;
  }

  #setState(state: TranscoderState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#log.debug({ state, previous }, 'state');
    this.emit('state', state, previous);
  }

  #requestKeyFrame(reason: string): void {
    const requester = this.#opts.keyframes;
    if (!requester) return;
    this.#log.trace({ reason }, 'requestKeyFrame()');
    try {
      Promise.resolve(requester.requestKeyFrame()).catch((err: unknown) => this.#log.warn({ err, reason }, 'keyframe request failed'));
    } catch (err) {
      this.#log.warn({ err, reason }, 'keyframe request failed');
    }
  }

  /**
   * A damaged picture (lost or reordered RTP) stays damaged until the next
   * keyframe, and FFmpeg never asks for one: ask the SFU, rate-limited.
   */
  #onDecodeLine(line: string): void {
    if (!this.#opts.config.supervision.keyframeOnDecodeError.enabled) return;
    const verdict = this.#decodeErrors.feed(line, Date.now());
    if (verdict === 'ignored') return;
    const stats = this.#decodeErrors.stats;
    const request = verdict === 'request';
    if (request) {
      this.#log.debug({ ffmpeg: line, ...stats }, 'decode error: requesting a keyframe');
      this.#requestKeyFrame('decode-error');
    }
    this.emit('decodeError', { line, keyframeRequested: request, ...stats });
    const owedIn = this.#decodeErrors.owedIn(Date.now());
    if (owedIn !== undefined && !this.#owedKeyframeTimer) {
      this.#owedKeyframeTimer = setTimeout(() => {
        this.#owedKeyframeTimer = undefined;
        if (this.#closed || !this.#decodeErrors.settleOwed(Date.now())) return;
        this.#log.debug({ ...this.#decodeErrors.stats }, 'decode error late in the interval: requesting a keyframe');
        this.#requestKeyFrame('decode-error');
      }, owedIn);
    }
  }

  /**
   * Spawns FFmpeg for a session without its SDP: it loads, parses its options and
   * blocks reading stdin, with no port bound and no output opened yet.
   */
  #createRun(session: number): Run {
    const plan = this.#plan(session);
    if (plan.mode === 'passthrough') this.#log.info({ session }, 'video copied from the host (passthrough)');
    else if (plan.mode === 'simulcast') this.#log.info({ session, layers: plan.outputs.length - 1 }, 'simulcast layers copied from the host, one rendition each');
    else if (this.#layout.kind === 'simulcast') this.#log.info({ session }, 'simulcast: video encoded while the program is not one simulcast H.264 video');
    else if (this.#layout.kind === 'single') this.#log.info({ session }, 'passthrough: video encoded while the program is not one H.264 video');
    const sdpInput = new PassThrough();
    const command = fluentCommand(plan, sdpInput, this.#opts.config.ffmpegPath);
    let resolveExit!: (info: ExitInfo) => void;
    let onRunning!: () => void;
    let onFlowing!: () => void;
    const run: Run = {
      session,
      copies: plan.mode !== 'ladder',
      command,
      sdpInput,
      activated: false,
      runningPromise: new Promise<void>((r) => (onRunning = r)),
      onRunning: () => onRunning(),
      code: null,
      signal: null,
      requested: false,
      exited: new Promise<ExitInfo>((r) => (resolveExit = r)),
      lastOutTimeMs: -1,
      lastAdvanceAt: Date.now(),
      running: false,
      fragmentTracks: new Set(),
      flowing: new Promise<void>((r) => (onFlowing = r)),
      onFlowing: () => onFlowing(),
    };
    const sessionLog = this.#log.child({ session });

    command.on('start', () => {
      const proc = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
      run.proc = proc;
      run.pid = proc?.pid;
      proc?.once('exit', (code, signal) => {
        run.code = code;
        run.signal = signal;
      });
      if (run.pid !== undefined) {
        sessionLog.debug({ pid: run.pid, standby: !run.activated }, 'FFmpeg spawned');
        this.emit('spawn', { session, pid: run.pid, standby: !run.activated, args: (command as unknown as { _getArguments(): string[] })._getArguments() });
      }
      if (run.requested) this.#signal(run); // stopped while fluent-ffmpeg was preparing
    });
    command.on('stderr', (line: string) => {
      if (!run.activated) {
        sessionLog.debug({ ffmpeg: line, standby: true }, 'stderr');
        return;
      }
      this.#stderr.push(line);
      const progress = parseProgressLine(line);
      if (!progress) {
        sessionLog.debug({ ffmpeg: line }, 'stderr');
        if (this.#run === run && !run.requested) this.#onDecodeLine(line);
        // FFmpeg drops an output whose push failed and goes on with the others: restart the
        // session so every track resumes (the packager sees a discontinuity on each).
        if (run.running && !run.requested && this.#run === run && OUTPUT_FAILED.test(line)) {
          this.#scheduleRestart(`output failed: ${line.replace(/^\[[^\]]*\]\s*/, '')}`);
        }
        return;
      }
      this.#lastProgress = progress;
      if (run.session === this.#run?.session) this.emit('progress', progress);
      if (progress.outTimeMs !== undefined && progress.outTimeMs > run.lastOutTimeMs) {
        const first = run.lastOutTimeMs >= 0 || progress.outTimeMs > 0;
        run.lastOutTimeMs = progress.outTimeMs;
        run.lastAdvanceAt = Date.now();
        if (first && !run.running) {
          run.running = true;
          run.onRunning();
        }
      }
    });
    const ended = (err?: Error) => {
      if (run.exit) return;
      // fluent-ffmpeg may report before our own 'exit' listener runs; the process object knows already.
      run.code = run.proc?.exitCode ?? run.code;
      run.signal = run.proc?.signalCode ?? run.signal;
      run.exit = { session, pid: run.pid, code: run.code, signal: run.signal, requested: run.requested };
      resolveExit(run.exit);
      if (!run.activated) {
        if (this.#standby === run) this.#standby = undefined;
        sessionLog.debug({ pid: run.exit.pid, code: run.exit.code, signal: run.exit.signal }, 'standby FFmpeg exited');
        return;
      }
      sessionLog.info({ pid: run.exit.pid, code: run.exit.code, signal: run.exit.signal, requested: run.exit.requested, error: err ? errorMessage(err) : undefined }, 'FFmpeg exited');
      this.emit('exit', run.exit);
      if (!run.requested && !this.#closed && this.#run === run && run.running) {
        this.#scheduleRestart(`FFmpeg exited unexpectedly (${run.signal ?? `code ${run.code}`}): ${errorSummary(this.#stderr.lines())}`);
      }
    };
    command.on('error', (err: Error) => ended(err));
    command.on('end', () => ended());
    command.run();
    return run;
  }

  /** Keeps the next session's FFmpeg loaded and waiting, so a restart skips process start-up. */
  #prepareStandby(): void {
    if (!this.#opts.config.supervision.warmStandby || this.#closed || this.#standby) return;
    // A program without RTP has no SDP to wait for: its FFmpeg would start at once.
    if (this.#sdp() === undefined) return;
    this.#standby = this.#createRun(this.#session + 1);
  }

  /** Activates a session (the warm standby when there is one) and resolves once its output advances; rejects (process stopped) otherwise. */
  async #launch(): Promise<void> {
    let run = this.#standby;
    this.#standby = undefined;
    if (run && (run.exit || run.session !== this.#session + 1)) {
      void this.#stopProcess(run);
      run = undefined;
    }
    run ??= this.#createRun(this.#session + 1);
    this.#session = run.session;
    this.#run = run;
    this.#stderr.clear();
    run.activated = true;
    run.lastAdvanceAt = Date.now();
    this.#setState('starting');
    run.sdpInput.end(this.#sdp() ?? '');
    const sessionLog = this.#log.child({ session: run.session });
    if (run.pid !== undefined) sessionLog.info({ pid: run.pid }, 'FFmpeg activated');

    // Keyframe requests once FFmpeg listens, repeated every segment until output flows.
    const abort = new AbortController();
    const kf = async () => {
      try {
        await waitUdpBound(this.#ports, abort.signal);
      } catch {
        return;
      }
      this.#requestKeyFrame('start');
      const again = setInterval(() => this.#requestKeyFrame('start'), this.#opts.config.segmentDurationMs);
      abort.signal.addEventListener('abort', () => clearInterval(again), { once: true });
    };
    void kf();

    const timeoutMs = this.#opts.config.supervision.startTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      run.runningPromise.then(() => 'running' as const),
      run.exited.then(() => 'exited' as const),
      new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    abort.abort();
    if (outcome === 'running' && !this.#closed) {
      this.#attempt = 0;
      this.#setState('running');
      sessionLog.info({ pid: run.pid }, 'FFmpeg running');
      this.#prepareStandby();
      return;
    }
    await this.#stopProcess(run);
    if (this.#closed) throw new InvalidStateError(`closed while starting [id:${this.id}]`);
    throw startError(
      { outcome: outcome === 'timeout' ? 'timeout' : 'exited', code: run.code, signal: run.signal, running: run.running, ports: this.#ports, startTimeoutMs: timeoutMs },
      this.#stderr.lines(),
    );
  }

  /**
   * A running FFmpeg gets SIGTERM (it flushes its fragments and ends its pushes);
   * a standby still waiting for its SDP has nothing to flush and ignores SIGTERM
   * while blocked on stdin, so its stdin is closed instead and it exits at once.
   */
  #signal(run: Run): void {
    const proc = run.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    if (run.activated) {
      this.#log.debug({ pid: run.pid, session: run.session }, 'SIGTERM');
      proc.kill('SIGTERM');
    } else {
      run.sdpInput.end();
    }
  }

  /** SIGTERM (or EOF for a standby), then SIGKILL after the grace period; resolves when it has exited. */
  async #stopProcess(run: Run, graceMs = this.#opts.config.supervision.killGraceMs): Promise<void> {
    if (run.exit) return;
    run.requested = true;
    if (!run.activated) run.sdpInput.end();
    // fluent-ffmpeg may still be preparing (no process yet): the 'start' handler signals it.
    if (!run.proc) {
      await Promise.race([run.exited, new Promise((r) => setTimeout(r, graceMs))]);
      if (!run.proc) return; // fluent-ffmpeg never spawned; nothing runs.
    }
    const proc = run.proc;
    this.#signal(run);
    // FFmpeg acts on the first SIGTERM between packets; blocked on an input that has
    // gone quiet (the publisher left) it waits out its 10 s RTP read timeout. A second
    // SIGTERM interrupts that read and it still exits through its own cleanup (outputs
    // closed, only the fragment in progress lost), unlike SIGKILL.
    const nudge = run.activated
      ? setTimeout(() => {
          if (proc.exitCode === null && proc.signalCode === null) {
            this.#log.info({ pid: run.pid, session: run.session }, 'FFmpeg still waiting on its input: second SIGTERM');
            proc.kill('SIGTERM');
          }
        }, Math.floor(this.#opts.config.supervision.killGraceMs / 2))
      : undefined;
    const killer = setTimeout(() => {
      if (proc.exitCode === null && proc.signalCode === null) {
        this.#log.warn({ pid: run.pid, session: run.session }, 'FFmpeg ignored SIGTERM: SIGKILL');
        proc.kill('SIGKILL');
      }
    }, graceMs);
    await run.exited;
    clearTimeout(nudge);
    clearTimeout(killer);
  }

  #checkStall(): void {
    const run = this.#run;
    if (!run || run.exit || !run.running || this.#closed) return;
    const idle = Date.now() - run.lastAdvanceAt;
    const stallMs = this.#opts.config.supervision.stallTimeoutMs;
    if (this.#state === 'running' && idle > stallMs) {
      this.#log.warn({ idleMs: idle, session: run.session }, 'output stalled');
      this.#setState('stalled');
      this.#requestKeyFrame('stall');
    } else if (this.#state === 'stalled' && idle <= stallMs) {
      this.#setState('running');
    } else if (this.#state === 'stalled' && idle > 2 * stallMs) {
      this.#scheduleRestart(`output stalled for ${idle} ms`);
    }
  }

  #scheduleRestart(reason: string): void {
    if (this.#closed || this.#state === 'restarting') return;
    this.#setState('restarting');
    const step = nextRestart(this.#opts.config.supervision.restart, this.#attempt, this.#preempted);
    this.#preempted = false;
    this.#attempt = step.attempt;
    if (step.kind === 'give-up') {
      const err: WithStderr<DependencyError> = new DependencyError('ffmpeg-failed', `FFmpeg failed ${this.#attempt} times in a row, giving up: ${reason}`);
      err.stderr = this.#stderr.lines();
      this.#log.error({ err }, 'transcoder died');
      void this.#shutdown().then(() => {
        this.#closed = true;
        this.#setState('stopped');
        this.emit('died', err);
      });
      return;
    }
    const { delayMs } = step;
    this.#log.warn({ attempt: this.#attempt, delayMs, reason }, 'restarting FFmpeg');
    this.emit('restart', { attempt: this.#attempt, delayMs, reason });
    const previous = this.#run;
    void (async () => {
      if (previous) await this.#stopProcess(previous);
      if (this.#closed) return;
      this.#restartTimer = setTimeout(() => {
        if (this.#closed) return;
        this.#launch().catch((err: unknown) => {
          if (this.#closed) return;
          this.#scheduleRestart(`restart failed: ${errorMessage(err)}`);
        });
      }, delayMs);
    })();
  }
}
