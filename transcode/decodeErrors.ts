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
 * a keyframe takes a round trip to the publisher anyway). Damage reported in
 * the second half of an interval, after the requested keyframe should have come
 * (that keyframe was itself hit, or a new loss), is not dropped: a request is
 * owed for the interval's end, since later frames may decode "cleanly" on a
 * broken reference and report nothing more.
 */
export class DecodeErrorWatcher {
  readonly #minIntervalMs: number;
  #lastRequestAt = -Infinity;
  #errors = 0;
  #requests = 0;
  #owed = false;

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
    const since = nowMs - this.#lastRequestAt;
    if (since < this.#minIntervalMs) {
      if (since >= this.#minIntervalMs / 2) this.#owed = true;
      return 'counted';
    }
    this.#lastRequestAt = nowMs;
    this.#requests++;
    this.#owed = false;
    return 'request';
  }

  /** When the owed request is due, in ms from `nowMs`; undefined when none is owed. */
  owedIn(nowMs: number): number | undefined {
    return this.#owed ? Math.max(0, this.#lastRequestAt + this.#minIntervalMs - nowMs) : undefined;
  }

  /** Takes the owed request if it is due: true means request a keyframe now. */
  settleOwed(nowMs: number): boolean {
    if (!this.#owed || nowMs - this.#lastRequestAt < this.#minIntervalMs) return false;
    this.#owed = false;
    this.#lastRequestAt = nowMs;
    this.#requests++;
    return true;
  }

  get stats(): DecodeErrorStats {
    return { decodeErrors: this.#errors, keyframeRequests: this.#requests };
  }
}
