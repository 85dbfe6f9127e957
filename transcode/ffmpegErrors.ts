import { DependencyError, InputError } from '../common/index.ts';
import { errorSummary } from './progress.ts';

/** What FFmpeg's stderr says went wrong, as typed errors that name who is to blame. Pure. */

/** An error carrying the FFmpeg stderr tail that explains it. */
export type WithStderr<E extends Error> = E & { stderr?: readonly string[] };

/** stderr lines that mean one output (a push to the packager) failed while FFmpeg runs on. */
export const OUTPUT_FAILED = /av_interleaved_write_frame\(\)|Error muxing a packet|Broken pipe|Connection reset by peer|Error writing trailer/;

/** How a run that never produced output ended. */
export interface FailedStart {
  /** `timeout`: no output within the start timeout (the process was stopped); `exited`: FFmpeg ended by itself. */
  readonly outcome: 'timeout' | 'exited';
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Its output had advanced (it ran, then failed). */
  readonly running: boolean;
  /** The RTP ports of its SDP. */
  readonly ports: readonly number[];
  readonly startTimeoutMs: number;
}

/**
 * The typed error of a failed start, from the stderr tail: DependencyError
 * `start-timeout`, `rtp-port-in-use`, `packager-unreachable` or `ffmpeg-failed`,
 * or InputError `bad-sdp`; `stderr` holds the lines.
 */
export function startError(start: FailedStart, lines: readonly string[]): WithStderr<Error> {
  const text = lines.join('\n');
  const summary = errorSummary(lines);
  let err: WithStderr<Error>;
  if (start.outcome === 'timeout') {
    err = new DependencyError(
      'start-timeout',
      `FFmpeg produced no output within ${start.startTimeoutMs} ms (is RTP arriving on ports ${start.ports.join(', ') || '(none)'}?)${summary ? `: ${summary}` : ''}`,
    );
  } else if (/bind failed|Address already in use/i.test(text)) {
    err = new DependencyError('rtp-port-in-use', `FFmpeg cannot receive RTP: a port of the SDP is taken: ${summary}`);
  } else if (/Connection refused|Failed to resolve|Server returned [45]\d\d|Broken pipe|Connection reset|Connection timed out|Error opening output|Network is unreachable/i.test(text)) {
    err = new DependencyError('packager-unreachable', `packager refused FFmpeg's CMAF push: ${summary}`);
  } else if (/Invalid data found|could not find codec parameters|Unsupported RTP|Error opening input/i.test(text) && !start.running) {
    err = new InputError('bad-sdp', `FFmpeg rejected the SDP or its RTP: ${summary}`);
  } else {
    err = new DependencyError('ffmpeg-failed', `FFmpeg exited (${start.signal ?? `code ${start.code}`}) before producing output: ${summary}`);
  }
  err.stderr = lines;
  return err;
}
