/**
 * Runs in the viewer page (injected by bench/latency.ts before the page's own
 * scripts): reads back the clock the host page paints with `?source=clock`
 * (ingest/client/host.ts, CLOCK_GRID) from every decoded frame and records
 * glass-to-glass latency against this browser's clock.
 *
 * The grid is 8 × 6 cells over the whole frame, white = 1: row 0 is the guard
 * 1 0 1 1 0 0 1 0, rows 1–4 the sender's epoch ms modulo 2^32, row 5 the CRC-8
 * (polynomial 0x07) of those 4 bytes. A frame whose guard or CRC does not match,
 * or with a cell too grey to call, is counted as rejected, never as a sample.
 */

import { CLOCK_GRID, decodeCells } from '../../ingest/client/clockCode.ts';

export interface ClockRecord {
  /** Epoch ms of page navigation start. */
  timeOrigin: number;
  /**
   * Per decoded clock frame: [epoch ms on display, latency ms, video height,
   * media buffered ahead of the frame ms, playback rate]. Latency − buffered
   * ahead is how old the newest media the player holds is (the pipeline and
   * the fetch); buffered ahead is what the player chose to hold back.
   */
  samples: [number, number, number, number, number][];
  firstFrameAt?: number;
  firstPlayingAt?: number;
  /** `waiting` events after playback started, with how long each lasted: until `playing` or the next presented frame (ms; -1 if still waiting). */
  stalls: { at: number; ms: number }[];
  rejected: number;
  /** Once a second: [epoch ms, the player's own latency s, its target latency s] when the page exposes hls.js. */
  player: [number, number, number][];
  /** Longest gap between two decoded frames after the first, ms (frozen picture). */
  maxFrameGapMs: number;
  /** Runs of consecutive rejected frames after the first valid one (damaged or grey pictures): [epoch ms of the first, ms until a valid frame, frames]. */
  rejectRuns: [number, number, number][];
}

const COLS = CLOCK_GRID.cols;
const ROWS = CLOCK_GRID.rows;
/** Reading canvas: 8 × 8 pixels per cell; the centre 4 × 4 of each cell is averaged. */
const CELL = 8;

function install(): void {
  const record: ClockRecord = { timeOrigin: performance.timeOrigin, samples: [], stalls: [], rejected: 0, maxFrameGapMs: 0, player: [], rejectRuns: [] };
  let run: [number, number, number] | undefined;
  (window as unknown as { __clock: ClockRecord }).__clock = record;
  const canvas = document.createElement('canvas');
  canvas.width = COLS * CELL;
  canvas.height = ROWS * CELL;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  let lastFrameAt = 0;

  const watch = (video: HTMLVideoElement) => {
    video.addEventListener('playing', () => {
      record.firstPlayingAt ??= Date.now();
      const open = record.stalls.at(-1);
      if (open && open.ms < 0) open.ms = Date.now() - open.at;
    });
    video.addEventListener('waiting', () => {
      if (record.firstPlayingAt !== undefined) record.stalls.push({ at: Date.now(), ms: -1 });
    });
    const onFrame = (_t: number, meta: VideoFrameCallbackMetadata) => {
      const now = Date.now();
      const b = video.buffered;
      let ahead = 0;
      for (let i = 0; i < b.length; i++) if (b.start(i) <= meta.mediaTime + 0.05 && b.end(i) > meta.mediaTime) ahead = b.end(i) - meta.mediaTime;
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      const luma: number[] = [];
      for (let r = 0; r < ROWS; r++) {
        for (let c = 0; c < COLS; c++) {
          let sum = 0;
          for (let y = r * CELL + 2; y < r * CELL + 6; y++) {
            for (let x = c * CELL + 2; x < c * CELL + 6; x++) {
              const i = (y * canvas.width + x) * 4;
              sum += (px[i]! + px[i + 1]! + px[i + 2]!) / 3;
            }
          }
          luma.push(sum / 16);
        }
      }
      const painted = decodeCells(luma, now);
      if (painted === undefined) {
        record.rejected++;
        if (record.firstFrameAt !== undefined) {
          if (!run) record.rejectRuns.push((run = [now, -1, 0]));
          run[2]++;
        }
      } else {
        if (run) run[1] = now - run[0];
        run = undefined;
        record.firstFrameAt ??= now;
        record.samples.push([now, now - painted, video.videoHeight, Math.round(ahead * 1000), video.playbackRate]);
      }
      // A presented frame ends a stall even where the player never fires `playing`
      // after its `waiting` (Shaka's stall recovery nudges the playhead instead).
      const open = record.stalls.at(-1);
      if (open && open.ms < 0 && now > open.at) open.ms = now - open.at;
      if (lastFrameAt) record.maxFrameGapMs = Math.max(record.maxFrameGapMs, now - lastFrameAt);
      lastFrameAt = now;
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };

  window.setInterval(() => {
    const hls = (window as unknown as { stagecast?: { hls?: { latency: number; targetLatency: number | null } } }).stagecast?.hls;
    if (hls && record.firstFrameAt !== undefined) record.player.push([Date.now(), hls.latency, hls.targetLatency ?? -1]);
  }, 1000);

  const find = () => {
    const video = document.querySelector('video');
    if (video) watch(video);
    else requestAnimationFrame(find);
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', find);
  else find();
}

if (typeof window !== 'undefined' && typeof document !== 'undefined') install();
