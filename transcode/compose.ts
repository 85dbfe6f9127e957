import { InputError, type RtpSessionDescriptor } from '../common/index.ts';
import {
  audioFragmentDurationUs,
  cmafOutputOptions,
  opusWebRtcOptions,
  rtpReturnOutput,
  thumbnailOutput,
  x264RungOutput,
  x264WebRtcOptions,
  type FfmpegPlan,
  type PlannedImageOutput,
  type PlannedOutput,
  type PlannedRtpOutput,
  type PlanOptions,
} from './args.ts';
import type { Rung, TranscodeConfig } from './config.ts';
import { encodedRungs, layersCopiable, programCopiable, type TrackLayout } from './layout.ts';

/** A cell of the output frame, as fractions (0–1) of the canvas. */
export interface ComposeCell {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/**
 * What one composed program is made of. The RTP session's video tracks are
 * placed, in order, in `videos[i].cell`; every audio track is mixed. Without video the
 * slate image is shown; without audio, silence goes out. The output tracks
 * (every ladder rung and audio) are the same whatever the spec, so the packager
 * sees one broadcast across spec changes, with a discontinuity at each.
 */
export interface ComposeSpec {
  /** `source`: the host's picture size when known (browser hosts report it), for the no-upscale rule. */
  readonly videos: readonly { readonly cell: ComposeCell; readonly source?: { readonly width: number; readonly height: number } }[];
  /** Audio tracks of the RTP session, all mixed. */
  readonly audios: number;
  /** Image shown when no video is in the program (PNG or JPEG path). */
  readonly slateImage: string;
}

/** A program transcoder's input: the RTP of the program's tracks (absent when nobody sends) and how to compose it. */
export interface ProgramInput {
  /**
   * The RTP FFmpeg receives (ingest's description of it), video tracks first
   * (in `compose.videos` order), then the audio tracks; with `simulcast`, the
   * video tracks are instead the layers of the one video, highest first.
   * FFmpeg gets it as SDP on stdin (ffmpegSdp.ts).
   */
  readonly rtp?: RtpSessionDescriptor;
  readonly compose: ComposeSpec;
  /**
   * The one video of the program arrives as simulcast layers, each its own
   * track (highest first), with the layer's height when the publisher said
   * it. The `simulcast` layout copies each into a rendition of its own.
   */
  readonly simulcast?: { readonly heights: readonly (number | undefined)[] };
}

/** The composed frame's size: the top encoded rung's height at 16:9 (even). */
export function canvasSize(rungs: readonly Rung[]): { width: number; height: number } {
  const top = rungs[0];
  if (!top) throw new TypeError('the ladder has no rungs');
  const height = top.height - (top.height % 2);
  return { width: Math.round((height * 16) / 9 / 2) * 2, height };
}

const even = (v: number): number => Math.round(v / 2) * 2;

/** A cell in pixels of the canvas (even sizes and offsets, as yuv420p needs). */
export function cellPixels(cell: ComposeCell, canvas: { width: number; height: number }): { x: number; y: number; w: number; h: number } {
  const x = even(cell.x * canvas.width);
  const y = even(cell.y * canvas.height);
  const w = Math.max(2, Math.min(even(cell.width * canvas.width), canvas.width - x));
  const h = Math.max(2, Math.min(even(cell.height * canvas.height), canvas.height - y));
  return { x, y, w, h };
}

function checkSpec(spec: ComposeSpec): void {
  if (spec.videos.length > 16) throw new InputError('bad-program', `a program holds at most 16 videos, not ${spec.videos.length}`);
  if (!Number.isInteger(spec.audios) || spec.audios < 0 || spec.audios > 16) throw new InputError('bad-program', `bad audio count ${spec.audios}`);
  for (const { cell } of spec.videos) {
    const ok = [cell.x, cell.y, cell.width, cell.height].every((v) => Number.isFinite(v) && v >= 0 && v <= 1);
    if (!ok || cell.width <= 0 || cell.height <= 0 || cell.x + cell.width > 1.0001 || cell.y + cell.height > 1.0001) {
      throw new InputError('bad-program', `cell out of the frame: ${JSON.stringify(cell)}`);
    }
  }
  if (spec.videos.length === 0 && !spec.slateImage) throw new InputError('bad-program', 'a program without video needs a slate image');
}

/**
 * The FFmpeg plan of one run of a program, for the broadcast's track
 * layout. Pure (golden-tested). Inputs: the SDP on stdin when there is RTP,
 * then the slate image (`-re -loop 1`) when no video, then silence (`-re`
 * lavfi anullsrc) when no audio; `-re` paces those two like the live RTP
 * beside them. Video, in the `single` layout while the program is one H.264
 * video: copied (`-c:v copy`, keyframes come from the host); in the
 * `simulcast` layout while the program is the one simulcast H.264 video the
 * layout was made for: each layer copied into its rendition. Otherwise each
 * input to constant frame rate, scaled to fit its cell and padded, stacked
 * (`xstack`, black where no cell is) on a canvas of the top rung's size, then
 * split into the rungs. Audio: every input resampled against its timestamps
 * and summed (`amix` with `normalize=0`, so a host is as loud with others as
 * alone).
 */
export function planProgram(config: TranscodeConfig, layout: TrackLayout, program: ProgramInput, options: PlanOptions, inputOptions: readonly string[]): FfmpegPlan {
  const spec = program.compose;
  const hasRtp = program.rtp !== undefined;
  checkSpec(spec);
  if (hasRtp !== spec.videos.length + spec.audios > 0) {
    throw new InputError('bad-program', hasRtp ? 'an RTP session was given for a program without RTP inputs' : 'the program has RTP inputs but no RTP session');
  }
  const copy = layout.kind === 'single' && programCopiable(program);
  const copyLayers = layout.kind === 'simulcast' && layersCopiable(layout, program);
  const rtp = options.rtpReturn;
  const rungs = encodedRungs(layout);
  const canvas = canvasSize(rungs);
  const { width: W, height: H } = canvas;
  const fps = config.fps;
  const httpTimeoutMs = config.output.httpTimeoutMs;
  const extraInputs: { source: string; options: string[] }[] = [];
  let next = hasRtp ? 1 : 0;
  const graph: string[] = [];
  const fit = (w: number, h: number) =>
    `scale=${w}:${h}:force_original_aspect_ratio=decrease:force_divisible_by=2,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p`;

  if (copy || copyLayers) {
    // Nothing in the graph: the host's H.264 (each of its layers) goes out as it came.
  } else if (spec.videos.length === 0) {
    const index = next++;
    extraInputs.push({ source: spec.slateImage, options: ['-re', '-loop', '1', '-framerate', String(fps)] });
    graph.push(`[${index}:v:0]fps=${fps},${fit(W, H)}[vmix]`);
  } else {
    const cells = spec.videos.map((v) => cellPixels(v.cell, canvas));
    cells.forEach((c, i) => graph.push(`[0:v:${i}]fps=${fps},${fit(c.w, c.h)}[c${i}]`));
    if (cells.length === 1 && cells[0]!.w === W && cells[0]!.h === H) {
      graph.push('[c0]null[vmix]');
    } else {
      // xstack's frame is the cells' bounding box: pad it to the canvas.
      const stack = cells.length === 1 ? `[c0]pad=${W}:${H}:${cells[0]!.x}:${cells[0]!.y}:color=black` : `${cells.map((_, i) => `[c${i}]`).join('')}xstack=inputs=${cells.length}:layout=${cells.map((c) => `${c.x}_${c.y}`).join('|')}:fill=black,pad=${W}:${H}:0:0:color=black`;
      graph.push(`${stack}[vmix]`);
    }
  }
  if (spec.audios === 0) {
    const index = next++;
    extraInputs.push({ source: 'anullsrc=r=48000:cl=stereo', options: ['-re', '-f', 'lavfi'] });
    graph.push(`[${index}:a:0]anull[aout]`);
  } else {
    // RTP jitter would give AAC frames uneven timestamps: resample against the timestamps first.
    // Copied video keeps its own timestamps, so audio keeps its own too (no first_pts=0).
    const resample = copy || copyLayers ? 'aresample=async=1' : 'aresample=async=1:first_pts=0';
    for (let i = 0; i < spec.audios; i++) graph.push(`[0:a:${i}]${resample},aformat=sample_rates=48000:channel_layouts=stereo[a${i}]`);
    graph.push(spec.audios === 1 ? '[a0]anull[aout]' : `${Array.from({ length: spec.audios }, (_, i) => `[a${i}]`).join('')}amix=inputs=${spec.audios}:normalize=0:dropout_transition=0[aout]`);
  }
  const outputs: PlannedOutput[] = [];
  const imageOutputs: PlannedImageOutput[] = [];
  if (copyLayers && layout.kind === 'simulcast') {
    // One rendition per layer, each copied: the publisher's encoder made the ladder.
    const partUs = config.partDurationMs * 1000;
    layout.rungs.forEach((r, i) => {
      const trackId = `video-${r.name}`;
      outputs.push({
        track: { trackId, kind: 'video', codec: 'h264', passthrough: true, fragmentDurationUs: partUs, height: r.height, bitrateKbps: r.bitrateKbps },
        target: options.targetFor(trackId),
        options: ['-map', `0:v:${i}`, '-c:v', 'copy', ...cmafOutputOptions(partUs, httpTimeoutMs, 'video')],
      });
    });
  } else if (copy) {
    const trackId = `video-${layout.rung.name}`;
    const partUs = config.partDurationMs * 1000;
    const source = spec.videos[0]?.source;
    outputs.push({
      track: { trackId, kind: 'video', codec: 'h264', passthrough: true, fragmentDurationUs: partUs, ...(source ? { height: source.height } : {}) },
      target: options.targetFor(trackId),
      options: ['-map', '0:v:0', '-c:v', 'copy', ...cmafOutputOptions(partUs, httpTimeoutMs, 'video')],
    });
  } else {
    const thumbs = options.thumbnailTarget !== undefined && config.thumbnails.enabled;
    const labels = rungs.map((_, i) => `[s${i}]`).join('') + (thumbs ? '[sthumb]' : '');
    const branches = rungs.length + (thumbs ? 1 : 0);
    graph.push(branches > 1 ? `[vmix]split=${branches}${labels}` : '[vmix]null[s0]');
    if (thumbs) {
      // One frame per segment, at the segment's start (the keyframe the rungs are cut at).
      const h = config.thumbnails.height - (config.thumbnails.height % 2);
      graph.push(`[sthumb]fps=fps=1000/${config.segmentDurationMs}:round=down,scale=-2:${h}[vthumb]`);
      imageOutputs.push(thumbnailOutput(config, '[vthumb]', options.thumbnailTarget!));
    }
    // The WebRTC copy is the top rung's picture, split off after its scale.
    rungs.forEach((r, i) => graph.push(`[s${i}]scale=-2:${r.height - (r.height % 2)}${i === 0 && rtp ? ',split=2[v0][vrtc]' : `[v${i}]`}`));
    rungs.forEach((r, i) => outputs.push(x264RungOutput(config, r, i, options)));
  }
  const rtpOutputs: PlannedRtpOutput[] = [];
  if (rtp) {
    // Copied video goes out as it came (the host's top layer); encoded video is encoded once more for browsers.
    rtpOutputs.push(rtpReturnOutput('video', rtp, copy || copyLayers ? ['-map', '0:v:0', '-c:v', 'copy'] : x264WebRtcOptions(config, rungs[0]!, '[vrtc]')));
    graph.push('[aout]asplit=2[aenc][artc]');
    rtpOutputs.push(rtpReturnOutput('audio', rtp, opusWebRtcOptions('[artc]')));
  }
  const fragUs = audioFragmentDurationUs(config.partDurationMs);
  outputs.push({
    track: { trackId: 'audio', kind: 'audio', codec: 'aac', passthrough: false, fragmentDurationUs: fragUs, bitrateKbps: config.audio.bitrateKbps },
    target: options.targetFor('audio'),
    options: [
      '-map', rtp ? '[aenc]' : '[aout]',
      '-c:a', 'aac',
      '-profile:a', 'aac_low',
      '-b:a', `${config.audio.bitrateKbps}k`,
      '-ar', '48000',
      '-ac', '2',
      ...cmafOutputOptions(fragUs, httpTimeoutMs, 'audio'),
    ],
  });
  return {
    mode: copyLayers ? 'simulcast' : copy ? 'passthrough' : 'ladder',
    sdpOnStdin: hasRtp,
    inputOptions: hasRtp ? inputOptions : [],
    extraInputs,
    globalOptions: ['-hide_banner', '-loglevel', 'level+info', '-stats', '-stats_period', String(config.supervision.statsPeriodMs / 1000)],
    complexFilter: graph.join(';'),
    outputs,
    ...(rtpOutputs.length ? { rtpOutputs } : {}),
    ...(imageOutputs.length ? { imageOutputs } : {}),
  };
}
