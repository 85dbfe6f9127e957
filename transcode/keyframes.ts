import type { Logger } from '../common/index.ts';
import { DecodeErrorWatcher, type DecodeErrorStats } from './decodeErrors.ts';
import { waitUdpBound } from './preflight.ts';
import type { KeyframeRequester } from './types.ts';

export interface KeyframeRequestsOptions {
  /** Where requests go (the SFU's consumers); none are sent without it. */
  readonly requester?: KeyframeRequester;
  readonly segmentDurationMs: number;
  /** `supervision.keyframeOnDecodeError`. */
  readonly onDecodeError: { readonly enabled: boolean; readonly minIntervalMs: number };
  readonly logger: Logger;
}

/** One decode-error line and what it led to, with the running totals (the Transcoder's `decodeError` event). */
export type DecodeErrorReport = { line: string; keyframeRequested: boolean } & DecodeErrorStats;

/**
 * When transcode asks the SFU for a keyframe: at a (re)start once FFmpeg
 * listens and every segment until its output advances; every segment while a
 * run copies the host's video (its keyframes are the host's); on a stall;
 * and after FFmpeg reports a damaged picture, rate-limited (decodeErrors.ts).
 * A failing request is logged, never thrown.
 */
export class KeyframeRequests {
  readonly #opts: KeyframeRequestsOptions;
  readonly #log: Logger;
  readonly #decodeErrors: DecodeErrorWatcher;
  #segmentTimer?: NodeJS.Timeout;
  #owedTimer?: NodeJS.Timeout;

  constructor(opts: KeyframeRequestsOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.#decodeErrors = new DecodeErrorWatcher(opts.onDecodeError.minIntervalMs);
  }

  /** Decode errors reported (all runs) and the keyframe requests they led to. */
  get decodeStats(): DecodeErrorStats {
    return this.#decodeErrors.stats;
  }

  request(reason: string): void {
    const requester = this.#opts.requester;
    if (!requester) return;
    this.#log.trace({ reason }, 'requestKeyFrame()');
    try {
      Promise.resolve(requester.requestKeyFrame()).catch((err: unknown) => this.#log.warn({ err, reason }, 'keyframe request failed'));
    } catch (err) {
      this.#log.warn({ err, reason }, 'keyframe request failed');
    }
  }

  /** Once FFmpeg has bound every RTP port, one request, then one per segment until `signal` aborts (its output advances). */
  untilOutput(ports: readonly number[], signal: AbortSignal): void {
    void (async () => {
      try {
        await waitUdpBound(ports, signal);
      } catch {
        return;
      }
      this.request('start');
      const again = setInterval(() => this.request('start'), this.#opts.segmentDurationMs);
      signal.addEventListener('abort', () => clearInterval(again), { once: true });
    })();
  }

  /** One request per segment while `copying()` (copied video's keyframes come from the host), until stop(). */
  everySegment(copying: () => boolean): void {
    clearInterval(this.#segmentTimer);
    this.#segmentTimer = setInterval(() => {
      if (copying()) this.request('segment');
    }, this.#opts.segmentDurationMs);
  }

  /**
   * A damaged picture (lost or reordered RTP) stays damaged until the next
   * keyframe, and FFmpeg never asks for one: ask the SFU, rate-limited. Feeds
   * one stderr line of the run on air; a report when it was a decode error.
   */
  decodeLine(line: string): DecodeErrorReport | undefined {
    if (!this.#opts.onDecodeError.enabled) return undefined;
    const verdict = this.#decodeErrors.feed(line, Date.now());
    if (verdict === 'ignored') return undefined;
    const stats = this.#decodeErrors.stats;
    const request = verdict === 'request';
    if (request) {
      this.#log.debug({ ffmpeg: line, ...stats }, 'decode error: requesting a keyframe');
      this.request('decode-error');
    }
    const owedIn = this.#decodeErrors.owedIn(Date.now());
    if (owedIn !== undefined && !this.#owedTimer) {
      this.#owedTimer = setTimeout(() => {
        this.#owedTimer = undefined;
        if (!this.#decodeErrors.settleOwed(Date.now())) return;
        this.#log.debug({ ...this.#decodeErrors.stats }, 'decode error late in the interval: requesting a keyframe');
        this.request('decode-error');
      }, owedIn);
    }
    return { line, keyframeRequested: request, ...stats };
  }

  /** Cancels the per-segment requests and an owed decode-error request (the transcoder shuts down). Safe twice. */
  stop(): void {
    clearInterval(this.#segmentTimer);
    clearTimeout(this.#owedTimer);
  }
}
