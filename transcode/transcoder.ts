import { DependencyError, InvalidStateError, TypedEmitter, errorMessage, type Logger } from '../common/index.ts';
import type { FfmpegPlan } from './args.ts';
import type { ProgramInput } from './compose.ts';
import { chooseLayout, type TrackLayout } from './layout.ts';
import { StreamSinkBridge } from './bridge.ts';
import type { TranscodeConfig } from './config.ts';
import type { DecodeErrorStats } from './decodeErrors.ts';
import { FfmpegProcess } from './ffmpegProcess.ts';
import { OUTPUT_FAILED, startError, type WithStderr } from './ffmpegErrors.ts';
import { KeyframeRequests } from './keyframes.ts';
import { LineRing, errorSummary } from './progress.ts';
import { checkReachable, verifyFfmpeg } from './preflight.ts';
import { nextRestart } from './restartPolicy.ts';
import { checkProgram, runPlan } from './runPlan.ts';
import { StallWatchdog } from './stall.ts';
import type { CmafSink, KeyframeRequester, RtpReturnTarget, TrackInfo, TranscodeProgress, TranscoderEvents, TranscoderState } from './types.ts';

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

/** How long a reconfigured-away FFmpeg gets between SIGTERM and SIGKILL. */
const RECONFIGURE_KILL_GRACE_MS = 1000;

/**
 * Supervises FFmpeg for one broadcast: RTP in (per the program's RTP session), one CMAF track per
 * rung and for audio out. States: starting → running ⇄ stalled → restarting →
 * starting …, and stopped (after close() or when retries run out, `died`).
 * Every FFmpeg (re)start is a new session: the sink sees new requests/streams
 * per track (a discontinuity for the packager). A facade: what a session runs
 * is runPlan.ts, the process ffmpegProcess.ts, the restart rule
 * restartPolicy.ts, stalls stall.ts, keyframe requests keyframes.ts; here are
 * the states, the warm standby and the make-before-break hand-over.
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
  #run?: FfmpegProcess;
  #standby?: FfmpegProcess;
  #bridge?: StreamSinkBridge;
  readonly #watchdog: StallWatchdog;
  readonly #keyframes: KeyframeRequests;
  #restartTimer?: NodeJS.Timeout;
  #lastProgress?: TranscodeProgress;
  /** The starting session was stopped by reconfigure(): its failure is no failure. */
  #preempted = false;

  constructor(opts: TranscoderOptions) {
    super();
    this.#opts = opts;
    this.id = opts.id ?? 'transcode';
    this.#log = opts.logger.child({ role: 'transcode', broadcast: this.id });
    this.onListenerError((event, err) => this.#log.error({ err, event }, 'listener failed'));
    this.#ports = checkProgram(opts.program); // InputError('bad-sdp' | 'bad-program')
    this.#program = opts.program;
    this.#layout = chooseLayout(opts.config, opts.program);
    const { supervision } = opts.config;
    this.#stderr = new LineRing(supervision.stderrLines);
    this.#keyframes = new KeyframeRequests({
      ...(opts.keyframes ? { requester: opts.keyframes } : {}),
      segmentDurationMs: opts.config.segmentDurationMs,
      onDecodeError: supervision.keyframeOnDecodeError,
      logger: this.#log,
    });
    this.#watchdog = new StallWatchdog(supervision.stallTimeoutMs, () => {
      const run = this.#run;
      if (!run || run.exit || !run.running || this.#closed) return undefined;
      return { state: this.#state, lastAdvanceAt: run.lastAdvanceAt };
    });
    this.#watchdog.onListenerError((event, err) => this.#log.error({ err, event }, 'stall handling failed'));
    this.#watchdog.on('stalled', (idleMs) => {
      this.#log.warn({ idleMs, session: this.#run?.session }, 'output stalled');
      this.#setState('stalled');
      this.#keyframes.request('stall');
    });
    this.#watchdog.on('resumed', () => this.#setState('running'));
    this.#watchdog.on('stuck', (idleMs) => this.#scheduleRestart(`output stalled for ${idleMs} ms`));
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
    return this.#keyframes.decodeStats;
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
        this.#bridge = await StreamSinkBridge.start(sink, this.#log, (session) => {
          const run = this.#run;
          if (run?.session === session) run.advanced();
        });
      }
      if (this.#closed) throw new InvalidStateError(`closed while starting [id:${this.id}]`);
      await this.#launch();
    } catch (err) {
      await this.#shutdown();
      this.#setState('stopped');
      throw err;
    }
    // A listener may have closed it as it came up: no timers then, they would outlive it.
    if (this.#closed) return;
    this.#watchdog.start();
    if (this.#layout.kind !== 'ladder') {
      // Copied video's keyframes come from the host: ask for one every segment while a session copies
      // (of every layer at once, so the renditions' segments start together).
      this.#keyframes.everySegment(() => this.#run?.copies === true);
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
    this.#watchdog.stop();
    this.#keyframes.stop();
    clearTimeout(this.#restartTimer);
    const standby = this.#standby;
    this.#standby = undefined;
    await Promise.all([this.#run?.stop(), standby?.stop()]);
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
   * one still runs and is stopped once the sink says it took the new one's output
   * on every track (`sourceSwitched`). Resolves then; a session that fails
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
    if (standby) void standby.stop();
    if (this.#state === 'restarting') return; // the pending restart plans with the new program
    if (this.#state === 'starting') {
      // A session of the old program is starting: stop it, the supervisor restarts at once
      // with the new one (not counted as a failure).
      if (this.#run && !this.#run.exit) {
        this.#preempted = true;
        await this.#run.stop(Math.min(this.#opts.config.supervision.killGraceMs, RECONFIGURE_KILL_GRACE_MS));
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
    const stopPrevious = () => previous?.stop(Math.min(this.#opts.config.supervision.killGraceMs, RECONFIGURE_KILL_GRACE_MS));
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
   * The sink switched every track to session `session`'s output: the packager is
   * the one judge of that moment (it holds a new session's media until every
   * track has some, then switches them together), and the run before it can stop.
   */
  sourceSwitched(session: number): void {
    // Only the activated run has output; a standby has none to switch to.
    if (this.#run?.session === session) this.#run.switchedIn();
  }

  /**
   * Waits until the in-process sink says it switched to the run (`sourceSwitched`),
   * so the previous FFmpeg feeds viewers until that moment. Bounded by the start
   * timeout; an HTTP sink gives no such signal, and FFmpeg's progress has to do.
   */
  async #untilFlowing(run: FfmpegProcess): Promise<void> {
    if (!this.#bridge) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([run.switched, run.exited, new Promise<void>((r) => (timer = setTimeout(r, this.#opts.config.supervision.startTimeoutMs)))]);
    clearTimeout(timer);
  }

  #plan(session: number): FfmpegPlan {
    const { config, sink, rtpReturn } = this.#opts;
    const endpoint = this.#bridge;
    return runPlan({ config, layout: this.#layout, program: this.#program, sink, ...(endpoint ? { endpoint } : {}), ...(rtpReturn ? { rtpReturn } : {}) }, session);
  }

  #setState(state: TranscoderState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#log.debug({ state, previous }, 'state');
    this.emit('state', state, previous);
  }

  /**
   * Spawns FFmpeg for a session without its SDP: it loads, parses its options and
   * blocks reading stdin, with no port bound and no output opened yet.
   */
  #createRun(session: number): FfmpegProcess {
    const plan = this.#plan(session);
    if (plan.mode === 'passthrough') this.#log.info({ session }, 'video copied from the host (passthrough)');
    else if (plan.mode === 'simulcast') this.#log.info({ session, layers: plan.outputs.length - 1 }, 'simulcast layers copied from the host, one rendition each');
    else if (this.#layout.kind === 'simulcast') this.#log.info({ session }, 'simulcast: video encoded while the program is not one simulcast H.264 video');
    else if (this.#layout.kind === 'single') this.#log.info({ session }, 'passthrough: video encoded while the program is not one H.264 video');
    const { ffmpegPath, supervision } = this.#opts.config;
    const run = new FfmpegProcess({ plan, ffmpegPath, session, killGraceMs: supervision.killGraceMs, logger: this.#log });
    run.on('spawn', (pid, args) => this.emit('spawn', { session, pid, standby: !run.activated, args }));
    run.on('stderr', (line, progress) => {
      this.#stderr.push(line);
      if (!progress) {
        if (this.#run === run && !run.requested) {
          const report = this.#keyframes.decodeLine(line);
          if (report) this.emit('decodeError', report);
        }
        // FFmpeg drops an output whose push failed and goes on with the others: restart the
        // session so every track resumes (the packager sees a discontinuity on each).
        if (run.running && !run.requested && this.#run === run && OUTPUT_FAILED.test(line)) {
          this.#scheduleRestart(`output failed: ${line.replace(/^\[[^\]]*\]\s*/, '')}`);
        }
        return;
      }
      this.#lastProgress = progress;
      if (run.session === this.#run?.session) this.emit('progress', progress);
    });
    run.on('exit', (exit) => {
      if (!run.activated) {
        if (this.#standby === run) this.#standby = undefined;
        return;
      }
      this.emit('exit', exit);
      if (!run.requested && !this.#closed && this.#run === run && run.running) {
        this.#scheduleRestart(`FFmpeg exited unexpectedly (${run.signal ?? `code ${run.code}`}): ${errorSummary(this.#stderr.lines())}`);
      }
    });
    run.spawn();
    return run;
  }

  /** Keeps the next session's FFmpeg loaded and waiting, so a restart skips process start-up. */
  #prepareStandby(): void {
    if (!this.#opts.config.supervision.warmStandby || this.#closed || this.#standby) return;
    // A program without RTP has no SDP to wait for: its FFmpeg would start at once.
    if (this.#program.rtp === undefined) return;
    this.#standby = this.#createRun(this.#session + 1);
  }

  /** Activates a session (the warm standby when there is one) and resolves once its output advances; rejects (process stopped) otherwise. */
  async #launch(): Promise<void> {
    let run = this.#standby;
    this.#standby = undefined;
    if (run && (run.exit || run.session !== this.#session + 1)) {
      void run.stop();
      run = undefined;
    }
    run ??= this.#createRun(this.#session + 1);
    this.#session = run.session;
    this.#run = run;
    this.#stderr.clear();
    run.activate(this.#program.rtp);
    this.#setState('starting');
    const sessionLog = this.#log.child({ session: run.session });

    // Keyframe requests once FFmpeg listens, repeated every segment until output flows.
    const abort = new AbortController();
    this.#keyframes.untilOutput(this.#ports, abort.signal);

    const timeoutMs = this.#opts.config.supervision.startTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      run.outputAdvancing.then(() => 'running' as const),
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
    await run.stop();
    if (this.#closed) throw new InvalidStateError(`closed while starting [id:${this.id}]`);
    throw startError(
      { outcome: outcome === 'timeout' ? 'timeout' : 'exited', code: run.code, signal: run.signal, running: run.running, ports: this.#ports, startTimeoutMs: timeoutMs },
      this.#stderr.lines(),
    );
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
      if (previous) await previous.stop();
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
