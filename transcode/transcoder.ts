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
  /** Every run also sends the program as RTP there (WHEP viewers); off when absent. */
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
 * Every FFmpeg (re)start is a new run: the sink sees new requests/streams
 * per track (a discontinuity for the packager). A facade: what a run runs
 * is runPlan.ts, the process ffmpegProcess.ts, the restart rule
 * restartPolicy.ts, stalls stall.ts, keyframe requests keyframes.ts; here are
 * the states, the warm standby and the make-before-break hand-over.
 */
export class Transcoder extends TypedEmitter<TranscoderEvents> {
  readonly id: string;
  readonly #opts: TranscoderOptions;
  readonly #log: Logger;
  #program: ProgramInput;
  /** The tracks every run makes, decided from the first program. */
  readonly #layout: TrackLayout;
  /** RTP ports FFmpeg binds for the current input (keyframes are requested once they are bound). */
  #ports: number[];
  readonly #stderr: LineRing;
  readonly #tracks: TrackInfo[];
  #state: TranscoderState = 'stopped';
  #startCalled = false;
  #closed = false;
  #run = 0;
  #attempt = 0;
  #ffmpeg?: FfmpegProcess;
  #standby?: FfmpegProcess;
  #bridge?: StreamSinkBridge;
  readonly #watchdog: StallWatchdog;
  readonly #keyframes: KeyframeRequests;
  #restartTimer?: NodeJS.Timeout;
  #lastProgress?: TranscodeProgress;
  /** The starting run was stopped by reconfigure(): its failure is no failure. */
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
      const ffmpeg = this.#ffmpeg;
      if (!ffmpeg || ffmpeg.exit || !ffmpeg.running || this.#closed) return undefined;
      return { state: this.#state, lastAdvanceAt: ffmpeg.lastAdvanceAt };
    });
    this.#watchdog.onListenerError((event, err) => this.#log.error({ err, event }, 'stall handling failed'));
    this.#watchdog.on('stalled', (idleMs) => {
      this.#log.warn({ idleMs, run: this.#ffmpeg?.run }, 'output stalled');
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

  /** The CMAF tracks every run produces. */
  get tracks(): readonly TrackInfo[] {
    return this.#tracks;
  }

  /** PID of the current FFmpeg process, if one is alive. */
  get pid(): number | undefined {
    return this.#ffmpeg && !this.#ffmpeg.exit ? this.#ffmpeg.pid : undefined;
  }

  /** The current FFmpeg run (1 for the first process). */
  get run(): number {
    return this.#run;
  }

  get lastProgress(): TranscodeProgress | undefined {
    return this.#lastProgress;
  }

  /** Decode errors FFmpeg reported (all runs) and the keyframe requests they led to. */
  get decodeStats(): DecodeErrorStats {
    return this.#keyframes.decodeStats;
  }

  /** The last stderr lines of FFmpeg (bounded). */
  stderrTail(): string[] {
    return this.#stderr.lines();
  }

  /** The argv of the first run (for logs and golden tests). */
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
        this.#bridge = await StreamSinkBridge.start(sink, this.#log, (run) => {
          const ffmpeg = this.#ffmpeg;
          if (ffmpeg?.run === run) ffmpeg.advanced();
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
      // Copied video's keyframes come from the host: ask for one every segment while a run copies
      // (of every layer at once, so the renditions' segments start together).
      this.#keyframes.everySegment(() => this.#ffmpeg?.copies === true);
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
    await Promise.all([this.#ffmpeg?.stop(), standby?.stop()]);
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

  /** Whether the current run copies the host's video (no video encode). */
  get copiesVideo(): boolean {
    return this.#ffmpeg?.copies ?? false;
  }

  /**
   * Replaces the program (hosts joined or left, layout changed) and restarts
   * FFmpeg with it, make before break: the new run starts while the current
   * one still runs and is stopped once the sink says it took the new one's output
   * on every track (`sourceSwitched`). Resolves then; a run that fails
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
      // A run of the old program is starting: stop it, the supervisor restarts at once
      // with the new one (not counted as a failure).
      if (this.#ffmpeg && !this.#ffmpeg.exit) {
        this.#preempted = true;
        await this.#ffmpeg.stop(Math.min(this.#opts.config.supervision.killGraceMs, RECONFIGURE_KILL_GRACE_MS));
      }
      return;
    }
    this.#setState('restarting');
    this.emit('restart', { attempt: 0, delayMs: 0, reason: 'reconfigured' });
    this.#log.info({ videos: program.compose.videos.length, audios: program.compose.audios }, 'reconfigure()');
    // Make before break: the new program's FFmpeg starts (on its own RTP ports) while the
    // old one still feeds the packager; its first output supersedes the old run
    // there, and only then is the old one stopped. Viewers see no gap, only the
    // discontinuity. The old one's input may be dead already (a host left): FFmpeg then
    // ignores SIGTERM, and its unflushed tail is not worth waiting for.
    const previous = this.#ffmpeg;
    const stopPrevious = () => previous?.stop(Math.min(this.#opts.config.supervision.killGraceMs, RECONFIGURE_KILL_GRACE_MS));
    for (;;) {
      try {
        await this.#launch();
        await this.#untilFlowing(this.#ffmpeg!);
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
   * The sink switched every track to run `run`'s output: the packager is
   * the one judge of that moment (it holds a new run's media until every
   * track has some, then switches them together), and the run before it can stop.
   */
  sourceSwitched(run: number): void {
    // Only the activated run has output; a standby has none to switch to.
    if (this.#ffmpeg?.run === run) this.#ffmpeg.switchedIn();
  }

  /**
   * Waits until the in-process sink says it switched to the run (`sourceSwitched`),
   * so the previous FFmpeg feeds viewers until that moment. Bounded by the start
   * timeout; an HTTP sink gives no such signal, and FFmpeg's progress has to do.
   */
  async #untilFlowing(ffmpeg: FfmpegProcess): Promise<void> {
    if (!this.#bridge) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ffmpeg.switched, ffmpeg.exited, new Promise<void>((r) => (timer = setTimeout(r, this.#opts.config.supervision.startTimeoutMs)))]);
    clearTimeout(timer);
  }

  #plan(run: number): FfmpegPlan {
    const { config, sink, rtpReturn } = this.#opts;
    const endpoint = this.#bridge;
    return runPlan({ config, layout: this.#layout, program: this.#program, sink, ...(endpoint ? { endpoint } : {}), ...(rtpReturn ? { rtpReturn } : {}) }, run);
  }

  #setState(state: TranscoderState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#log.debug({ state, previous }, 'state');
    this.emit('state', state, previous);
  }

  /**
   * Spawns FFmpeg for a run without its SDP: it loads, parses its options and
   * blocks reading stdin, with no port bound and no output opened yet.
   */
  #createRun(run: number): FfmpegProcess {
    const plan = this.#plan(run);
    if (plan.mode === 'passthrough') this.#log.info({ run }, 'video copied from the host (passthrough)');
    else if (plan.mode === 'simulcast') this.#log.info({ run, layers: plan.outputs.length - 1 }, 'simulcast layers copied from the host, one rendition each');
    else if (this.#layout.kind === 'simulcast') this.#log.info({ run }, 'simulcast: video encoded while the program is not one simulcast H.264 video');
    else if (this.#layout.kind === 'single') this.#log.info({ run }, 'passthrough: video encoded while the program is not one H.264 video');
    const { ffmpegPath, supervision } = this.#opts.config;
    const ffmpeg = new FfmpegProcess({ plan, ffmpegPath, run: run, killGraceMs: supervision.killGraceMs, logger: this.#log });
    ffmpeg.on('spawn', (pid, args) => this.emit('spawn', { run: run, pid, standby: !ffmpeg.activated, args }));
    ffmpeg.on('stderr', (line, progress) => {
      this.#stderr.push(line);
      if (!progress) {
        if (this.#ffmpeg === ffmpeg && !ffmpeg.requested) {
          const report = this.#keyframes.decodeLine(line);
          if (report) this.emit('decodeError', report);
        }
        // FFmpeg drops an output whose push failed and goes on with the others: restart the
        // run so every track resumes (the packager sees a discontinuity on each).
        if (ffmpeg.running && !ffmpeg.requested && this.#ffmpeg === ffmpeg && OUTPUT_FAILED.test(line)) {
          this.#scheduleRestart(`output failed: ${line.replace(/^\[[^\]]*\]\s*/, '')}`);
        }
        return;
      }
      this.#lastProgress = progress;
      if (ffmpeg.run === this.#ffmpeg?.run) this.emit('progress', progress);
    });
    ffmpeg.on('exit', (exit) => {
      if (!ffmpeg.activated) {
        if (this.#standby === ffmpeg) this.#standby = undefined;
        return;
      }
      this.emit('exit', exit);
      if (!ffmpeg.requested && !this.#closed && this.#ffmpeg === ffmpeg && ffmpeg.running) {
        this.#scheduleRestart(`FFmpeg exited unexpectedly (${ffmpeg.signal ?? `code ${ffmpeg.code}`}): ${errorSummary(this.#stderr.lines())}`);
      }
    });
    ffmpeg.spawn();
    return ffmpeg;
  }

  /** Keeps the next run's FFmpeg loaded and waiting, so a restart skips process start-up. */
  #prepareStandby(): void {
    if (!this.#opts.config.supervision.warmStandby || this.#closed || this.#standby) return;
    // A program without RTP has no SDP to wait for: its FFmpeg would start at once.
    if (this.#program.rtp === undefined) return;
    this.#standby = this.#createRun(this.#run + 1);
  }

  /** Activates a run (the warm standby when there is one) and resolves once its output advances; rejects (process stopped) otherwise. */
  async #launch(): Promise<void> {
    let ffmpeg = this.#standby;
    this.#standby = undefined;
    if (ffmpeg && (ffmpeg.exit || ffmpeg.run !== this.#run + 1)) {
      void ffmpeg.stop();
      ffmpeg = undefined;
    }
    ffmpeg ??= this.#createRun(this.#run + 1);
    this.#run = ffmpeg.run;
    this.#ffmpeg = ffmpeg;
    this.#stderr.clear();
    ffmpeg.activate(this.#program.rtp);
    this.#setState('starting');
    const runLog = this.#log.child({ run: ffmpeg.run });

    // Keyframe requests once FFmpeg listens, repeated every segment until output flows.
    const abort = new AbortController();
    this.#keyframes.untilOutput(this.#ports, abort.signal);

    const timeoutMs = this.#opts.config.supervision.startTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      ffmpeg.outputAdvancing.then(() => 'running' as const),
      ffmpeg.exited.then(() => 'exited' as const),
      new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    abort.abort();
    if (outcome === 'running' && !this.#closed) {
      this.#attempt = 0;
      this.#setState('running');
      runLog.info({ pid: ffmpeg.pid }, 'FFmpeg running');
      this.#prepareStandby();
      return;
    }
    await ffmpeg.stop();
    if (this.#closed) throw new InvalidStateError(`closed while starting [id:${this.id}]`);
    throw startError(
      { outcome: outcome === 'timeout' ? 'timeout' : 'exited', code: ffmpeg.code, signal: ffmpeg.signal, running: ffmpeg.running, ports: this.#ports, startTimeoutMs: timeoutMs },
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
    const previous = this.#ffmpeg;
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
