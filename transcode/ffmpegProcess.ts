import type { ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import type ffmpeg from 'fluent-ffmpeg';
import { TypedEmitter, errorMessage, type Logger, type RtpSessionDescriptor } from '../common/index.ts';
import { fluentCommand, type FfmpegPlan } from './args.ts';
import { ffmpegSdp } from './ffmpegSdp.ts';
import { parseProgressLine } from './progress.ts';
import type { ExitInfo, TranscodeProgress } from './types.ts';

export interface FfmpegProcessOptions {
  readonly plan: FfmpegPlan;
  readonly ffmpegPath: string;
  /** The run it makes (its CMAF run, in logs and its ExitInfo). */
  readonly run: number;
  /** Time between SIGTERM and SIGKILL, in ms; a second SIGTERM goes at half of it. */
  readonly killGraceMs: number;
  readonly logger: Logger;
}

export type FfmpegProcessEvents = {
  /** The process exists (fluent-ffmpeg spawned it); `args` is its argv. */
  spawn: [pid: number, args: string[]];
  /** A stderr line once activated; `progress` when it is the stats line. */
  stderr: [line: string, progress: TranscodeProgress | undefined];
  /** It ended, by itself or asked to; `error` is fluent-ffmpeg's account of a non-zero exit. */
  exit: [info: ExitInfo, error: Error | undefined];
};

/**
 * One FFmpeg process for one run, spawned without its SDP: it loads,
 * parses its options and blocks reading stdin, with no port bound and no
 * output opened, until `activate(rtp)` (a warm standby costs nothing until
 * then). It watches its stats line for output advancing and stops gracefully:
 * SIGTERM (it flushes its fragments), a second SIGTERM, SIGKILL last. Tracked
 * by its own pid, never by name.
 */
export class FfmpegProcess extends TypedEmitter<FfmpegProcessEvents> {
  readonly run: number;
  readonly plan: FfmpegPlan;
  /** This run copies the host's video. */
  readonly copies: boolean;
  /** Resolves once its output first advances. */
  readonly outputAdvancing: Promise<void>;
  /** Resolves when it has ended (or never spawned and was stopped). */
  readonly exited: Promise<ExitInfo>;
  /** Resolves when the sink has switched every track to this run's output (`switchedIn`). */
  readonly switched: Promise<void>;
  readonly #command: ffmpeg.FfmpegCommand;
  /** FFmpeg's stdin: the SDP is written when the process is activated. */
  readonly #sdpInput = new PassThrough();
  readonly #killGraceMs: number;
  readonly #log: Logger;
  readonly #runLog: Logger;
  #onAdvancing!: () => void;
  #resolveExit!: (info: ExitInfo) => void;
  #onSwitched!: () => void;
  #activated = false;
  #proc?: ChildProcess;
  #pid?: number;
  #code: number | null = null;
  #signal: NodeJS.Signals | null = null;
  #requested = false;
  #exit?: ExitInfo;
  #lastOutTimeMs = -1;
  #lastAdvanceAt = Date.now();
  #running = false;

  constructor(opts: FfmpegProcessOptions) {
    super();
    this.run = opts.run;
    this.plan = opts.plan;
    this.copies = opts.plan.mode !== 'ladder';
    this.#killGraceMs = opts.killGraceMs;
    this.#log = opts.logger;
    this.#runLog = opts.logger.child({ run: opts.run });
    this.onListenerError((event, err) => this.#log.error({ err, event, run: this.run }, 'listener failed'));
    this.outputAdvancing = new Promise<void>((r) => (this.#onAdvancing = r));
    this.exited = new Promise<ExitInfo>((r) => (this.#resolveExit = r));
    this.switched = new Promise<void>((r) => (this.#onSwitched = r));
    const command = fluentCommand(opts.plan, this.#sdpInput, opts.ffmpegPath);
    this.#command = command;
    command.on('start', () => this.#started());
    command.on('stderr', (line: string) => this.#stderr(line));
    command.on('error', (err: Error) => this.#ended(err));
    command.on('end', () => this.#ended());
  }

  /** Starts FFmpeg (call once, after listening: fluent-ffmpeg may report at once). */
  spawn(): void {
    this.#command.run();
  }

  get pid(): number | undefined {
    return this.#pid;
  }

  /** Given its SDP (a standby is not, until a restart needs it). */
  get activated(): boolean {
    return this.#activated;
  }

  /** Its output has advanced since activation. */
  get running(): boolean {
    return this.#running;
  }

  /** We asked it to stop. */
  get requested(): boolean {
    return this.#requested;
  }

  get code(): number | null {
    return this.#code;
  }

  get signal(): NodeJS.Signals | null {
    return this.#signal;
  }

  /** Set once it has ended. */
  get exit(): ExitInfo | undefined {
    return this.#exit;
  }

  /** When its output last advanced (stats line, a fragment received, or activation), ms since the epoch. */
  get lastAdvanceAt(): number {
    return this.#lastAdvanceAt;
  }

  /** Its output advanced outside the stats line (a box reached the sink). */
  advanced(): void {
    this.#lastAdvanceAt = Date.now();
  }

  /** The sink (the packager) took this run's output on every track: `switched` resolves. */
  switchedIn(): void {
    this.#onSwitched();
  }

  /**
   * Gives FFmpeg the SDP of its RTP session (nothing for a program without
   * RTP): it opens its RTP ports and outputs now. The one place SDP text is
   * written for FFmpeg.
   */
  activate(rtp: RtpSessionDescriptor | undefined): void {
    const sdp = rtp ? ffmpegSdp(rtp) : '';
    this.#activated = true;
    this.#lastAdvanceAt = Date.now();
    this.#sdpInput.end(sdp);
    if (this.#pid !== undefined) this.#runLog.info({ pid: this.#pid }, 'FFmpeg activated');
  }

  /** SIGTERM (or EOF for a standby), then SIGKILL after the grace period; resolves when it has exited. */
  async stop(graceMs = this.#killGraceMs): Promise<void> {
    if (this.#exit) return;
    this.#requested = true;
    if (!this.#activated) this.#sdpInput.end();
    // fluent-ffmpeg may still be preparing (no process yet): the 'start' handler signals it.
    if (!this.#proc) {
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, graceMs))]);
      if (!this.#proc) return; // fluent-ffmpeg never spawned; nothing runs.
    }
    const proc = this.#proc;
    this.#terminate();
    // FFmpeg acts on the first SIGTERM between packets; blocked on an input that has
    // gone quiet (the publisher left) it waits out its 10 s RTP read timeout. A second
    // SIGTERM interrupts that read and it still exits through its own cleanup (outputs
    // closed, only the fragment in progress lost), unlike SIGKILL.
    const nudge = this.#activated
      ? setTimeout(() => {
          if (proc.exitCode === null && proc.signalCode === null) {
            this.#log.info({ pid: this.#pid, run: this.run }, 'FFmpeg still waiting on its input: second SIGTERM');
            proc.kill('SIGTERM');
          }
        }, Math.floor(this.#killGraceMs / 2))
      : undefined;
    const killer = setTimeout(() => {
      if (proc.exitCode === null && proc.signalCode === null) {
        this.#log.warn({ pid: this.#pid, run: this.run }, 'FFmpeg ignored SIGTERM: SIGKILL');
        proc.kill('SIGKILL');
      }
    }, graceMs);
    await this.exited;
    clearTimeout(nudge);
    clearTimeout(killer);
  }

  /**
   * A running FFmpeg gets SIGTERM (it flushes its fragments and ends its pushes);
   * a standby still waiting for its SDP has nothing to flush and ignores SIGTERM
   * while blocked on stdin, so its stdin is closed instead and it exits at once.
   */
  #terminate(): void {
    const proc = this.#proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    if (this.#activated) {
      this.#log.debug({ pid: this.#pid, run: this.run }, 'SIGTERM');
      proc.kill('SIGTERM');
    } else {
      this.#sdpInput.end();
    }
  }

  #started(): void {
    const proc = (this.#command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
    this.#proc = proc;
    this.#pid = proc?.pid;
    proc?.once('exit', (code, signal) => {
      this.#code = code;
      this.#signal = signal;
    });
    if (this.#pid !== undefined) {
      this.#runLog.debug({ pid: this.#pid, standby: !this.#activated }, 'FFmpeg spawned');
      this.emit('spawn', this.#pid, (this.#command as unknown as { _getArguments(): string[] })._getArguments());
    }
    if (this.#requested) this.#terminate(); // stopped while fluent-ffmpeg was preparing
  }

  #stderr(line: string): void {
    if (!this.#activated) {
      this.#runLog.debug({ ffmpeg: line, standby: true }, 'stderr');
      return;
    }
    const progress = parseProgressLine(line);
    if (!progress) this.#runLog.debug({ ffmpeg: line }, 'stderr');
    this.emit('stderr', line, progress);
    if (progress?.outTimeMs !== undefined && progress.outTimeMs > this.#lastOutTimeMs) {
      const first = this.#lastOutTimeMs >= 0 || progress.outTimeMs > 0;
      this.#lastOutTimeMs = progress.outTimeMs;
      this.#lastAdvanceAt = Date.now();
      if (first && !this.#running) {
        this.#running = true;
        this.#onAdvancing();
      }
    }
  }

  #ended(err?: Error): void {
    if (this.#exit) return;
    // fluent-ffmpeg may report before our own 'exit' listener runs; the process object knows already.
    this.#code = this.#proc?.exitCode ?? this.#code;
    this.#signal = this.#proc?.signalCode ?? this.#signal;
    this.#exit = { run: this.run, pid: this.#pid, code: this.#code, signal: this.#signal, requested: this.#requested };
    this.#resolveExit(this.#exit);
    if (!this.#activated) {
      this.#runLog.debug({ pid: this.#exit.pid, code: this.#exit.code, signal: this.#exit.signal }, 'standby FFmpeg exited');
    } else {
      this.#runLog.info(
        { pid: this.#exit.pid, code: this.#exit.code, signal: this.#exit.signal, requested: this.#exit.requested, error: err ? errorMessage(err) : undefined },
        'FFmpeg exited',
      );
    }
    this.emit('exit', this.#exit, err);
  }
}
