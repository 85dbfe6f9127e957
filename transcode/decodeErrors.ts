/**
 * Turns FFmpeg's decoder complaints into keyframe requests. FFmpeg sends no
 * PLI/NACK for H.264 over plain RTP, so after a lost packet the picture stays
 * broken (concealed, grey smears) until the publisher's next keyframe; asking
 * the SFU for one as soon as FFmpeg reports the damage cuts that short.
 * Pure: the caller feeds stderr lines with a clock and sends the requests.
 */

/**
 * stderr lines that mean a decoded picture is damaged or missing its reference:
 * h264 (`error while decoding MB`, `concealing … errors`, `Missing reference
 * picture`, `reference picture missing`, `mmco: unref short failure`, `no
 * frame!`, `… unavailable for requested intra`), VP8 and its depacketizer
 * (`Discarding interframe without a prior keyframe`, `… dropping frame`,
 * `Missed part of …`), the RTP demuxer (`RTP: missed N packets`) and
 * generic `Invalid NAL unit` / `corrupt` decoder messages.
 */
export const DECODE_ERROR =
  /error while decoding MB|concealing \d+ DC|Missing reference picture|reference picture missing|mmco: unref short failure|no frame!|unavailable for requested intra|Discarding interframe without a prior keyframe|dropping frame|Missed (a )?part of|RTP: missed \d+ packets|Invalid NAL unit|corrupt(ed)? (macroblock|frame|input|decoded)/i;

export interface DecodeErrorStats {
  /** stderr lines that reported decode damage. */
  readonly decodeErrors: number;
  /** Keyframe requests sent because of them. */
  readonly keyframeRequests: number;
}

/**
 * Counts decode-error lines and says when to request a keyframe: at most one
 * request per `minIntervalMs` (a burst of errors from one loss is one request;
 * a keyframe takes a round trip to the publisher anyway).
 */
export class DecodeErrorWatcher {
  readonly #minIntervalMs: number;
  #lastRequestAt = -Infinity;
  #errors = 0;
  #requests = 0;

  constructor(minIntervalMs: number) {
    if (!Number.isFinite(minIntervalMs) || minIntervalMs < 0) throw new TypeError(`invalid keyframe request interval ${minIntervalMs}`);
    this.#minIntervalMs = minIntervalMs;
  }

  /**
   * Feeds one stderr line: `ignored` (not a decode error), `counted` (one, but a
   * keyframe was requested less than minIntervalMs ago) or `request` (ask for a
   * keyframe now).
   */
  feed(line: string, nowMs: number): 'ignored' | 'counted' | 'request' {
    if (!DECODE_ERROR.test(line)) return 'ignored';
    this.#errors++;
    if (nowMs - this.#lastRequestAt < this.#minIntervalMs) return 'counted';
    this.#lastRequestAt = nowMs;
    this.#requests++;
    return 'request';
  }

  get stats(): DecodeErrorStats {
    return { decodeErrors: this.#errors, keyframeRequests: this.#requests };
  }
}
