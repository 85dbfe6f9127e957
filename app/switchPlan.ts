import type { ProducerInfo } from '../ingest/index.ts';
import type { SwitchCodec, TrackLayout, TranscodeConfig } from '../transcode/index.ts';
import { sameAudios, type ProgramSpec } from './composition.ts';

/**
 * Whether the speaker layout runs behind RTP switches, with which codec and
 * lanes, and whether a stage change stays on the running switch or needs a
 * program change (an FFmpeg restart). Pure: the stage's producers, the
 * transcode mode and the running transcoder's tracks in, decisions out.
 */

/** What the decisions know of the broadcast. */
export interface SwitchContext {
  readonly producers: readonly Pick<ProducerInfo, 'id' | 'mimeType' | 'layers'>[];
  readonly mode: TranscodeConfig['mode'];
  /** The running transcoder's tracks; undefined before the transcoder exists (then foreseen from `mode`). */
  readonly layout: TrackLayout | undefined;
}

/**
 * What one switch carries: the best layer of each host video (an encoded
 * program: one lane), or one simulcast layer of each (copied layers: one lane
 * per layer, highest first, every host sending the same layers).
 */
export interface LaneLayer {
  readonly spatialLayer: number;
  readonly height: number | undefined;
}

/** Lanes compare by this key: a stage whose layers differ needs a program change. */
export const layersKey = (layers: readonly LaneLayer[] | undefined): string => JSON.stringify(layers ?? null);

/** A producer's RTP codec as an output sends it (the in-process Stage's `rtpOutputCodec`). */
export interface OutputCodec {
  mimeType: string;
  payloadType: number;
  parameters: Record<string, unknown>;
}

/** The codec every source of a switch sends, and its key (mime type, payload type and parameters). */
export interface SwitchCodecSpec {
  readonly key: string;
  readonly codec: SwitchCodec;
  readonly payloadType: number;
}

export type SwitchCodecChoice = SwitchCodecSpec | { reason: string };

/**
 * The switch's codec for these sources, or why there can be none: all host
 * videos must have the same codec (and payload type and parameters) for one
 * continuous stream, the codec must be one the switch understands, and the
 * feed must be in-process (a remote feed, which has no `codecOf`, cannot point
 * RTP at a local switch).
 */
export function switchCodec(codecOf: ((producerId: string) => OutputCodec | undefined) | undefined, sources: readonly { producerId: string }[]): SwitchCodecChoice {
  if (!codecOf) return { reason: 'the stage feed is remote' };
  const codecs = sources.map((s) => codecOf(s.producerId));
  if (codecs.some((c) => !c)) return { reason: 'a video producer is gone' };
  const keys = new Set(codecs.map((c) => JSON.stringify([c!.mimeType.toLowerCase(), c!.payloadType, Object.entries(c!.parameters).sort()])));
  if (keys.size !== 1) return { reason: `the host videos differ in codec: ${codecs.map((c) => `${c!.mimeType}/${c!.payloadType}`).join(', ')}` };
  const first = codecs[0]!;
  const name = first.mimeType.split('/')[1]?.toUpperCase();
  if (name !== 'VP8' && name !== 'H264') return { reason: `the switch does not handle ${first.mimeType}` };
  return { key: [...keys][0]!, codec: name, payloadType: first.payloadType };
}

/**
 * Whether the broadcast has one video track that may be copied (modes
 * `passthrough`, and `auto` when its first program is one H.264 host): known
 * from the transcoder once it exists, foreseen from the config before.
 */
export function singleVideoTrack(spec: ProgramSpec, ctx: SwitchContext): boolean {
  if (ctx.layout) return ctx.layout.kind === 'single';
  if (ctx.mode !== 'auto') return ctx.mode === 'passthrough';
  const video = spec.videos.length === 1 ? ctx.producers.find((p) => p.id === spec.videos[0]!.producerId) : undefined;
  return video?.mimeType.toLowerCase() === 'video/h264';
}

/** The program's one video when it is a simulcast H.264 producer filling the frame. */
export function layeredVideo(spec: ProgramSpec, producers: SwitchContext['producers']): { producerId: string; layers: { height?: number }[] } | undefined {
  if (spec.videos.length !== 1 || spec.slate) return undefined;
  const { cell, producerId } = spec.videos[0]!;
  if (cell.x !== 0 || cell.y !== 0 || cell.width !== 1 || cell.height !== 1) return undefined;
  const video = producers.find((p) => p.id === producerId);
  if (!video || video.mimeType.toLowerCase() !== 'video/h264' || !video.layers || video.layers.length < 2) return undefined;
  return { producerId, layers: video.layers };
}

/**
 * Whether the broadcast's video tracks are simulcast layers copied as they
 * come: known from the transcoder once it exists, foreseen before from the
 * config and the first program (modes `simulcast` and `auto` take them when
 * it is one H.264 simulcast host full frame).
 */
export function copiesLayers(spec: ProgramSpec, ctx: SwitchContext): boolean {
  if (ctx.layout) return ctx.layout.kind === 'simulcast';
  return (ctx.mode === 'simulcast' || ctx.mode === 'auto') && layeredVideo(spec, ctx.producers) !== undefined;
}

/**
 * The layers to send FFmpeg for a program, highest first (spatial layer and
 * height), when it shows one simulcast H.264 host full frame and the
 * broadcast copies layers (a running simulcast layout wants as many layers as
 * it has renditions); undefined otherwise (then the best layer comes, as to
 * anyone).
 */
export function programLayers(spec: ProgramSpec, ctx: SwitchContext): LaneLayer[] | undefined {
  const video = layeredVideo(spec, ctx.producers);
  if (!video || !copiesLayers(spec, ctx)) return undefined;
  if (ctx.layout?.kind === 'simulcast' && ctx.layout.rungs.length !== video.layers.length) return undefined;
  return video.layers.map((l, i) => ({ spatialLayer: i, height: l.height })).reverse();
}

/**
 * The lanes' layers for the speaker layout's switches: undefined when the
 * video is encoded (one lane, each host's best layer); the layers, highest
 * first, when the broadcast copies them (then every host video must be H.264
 * simulcast with the same layer heights, and as many as the renditions); or
 * why there can be no switch.
 */
export function switchLayers(spec: ProgramSpec, sources: readonly { producerId: string }[], ctx: SwitchContext): LaneLayer[] | undefined | string {
  if (!copiesLayers(spec, ctx)) return undefined;
  const layers = programLayers(spec, ctx);
  if (!layers) return 'the speaker video is not the copied layers';
  const key = layersKey(layers);
  for (const s of sources) {
    const video = layeredVideo({ ...spec, videos: [{ ...spec.videos[0]!, producerId: s.producerId }] }, ctx.producers);
    const theirs = video?.layers.map((l, i) => ({ spatialLayer: i, height: l.height })).reverse();
    if (layersKey(theirs) !== key) return `the host videos differ in simulcast layers (${key} ≠ ${layersKey(theirs)})`;
  }
  return layers;
}

/**
 * How a program's video reaches FFmpeg: undefined when it goes as one output
 * (not the speaker layout, the slate, or a copied video track: each host's
 * H.264 has its own parameter sets, size and profile, which a copy would mix
 * under one init segment); the switch's codec and lanes in the speaker layout
 * when the host videos allow (copied simulcast layers do, one switch per
 * layer, when every host sends the same layers); else why they do not.
 */
export function planSwitch(
  spec: ProgramSpec,
  sources: readonly { producerId: string }[],
  ctx: SwitchContext,
  codecOf: ((producerId: string) => OutputCodec | undefined) | undefined,
): { codec: SwitchCodecSpec; layers: LaneLayer[] | undefined } | { reason: string } | undefined {
  if (spec.mode !== 'speaker' || spec.slate || singleVideoTrack(spec, ctx)) return undefined;
  const codec = switchCodec(codecOf, sources);
  if ('reason' in codec) return codec;
  const layers = switchLayers(spec, sources, ctx);
  if (typeof layers === 'string') return { reason: layers };
  return { codec, layers };
}

/** The running switch as the in-place decision sees it. */
export interface RunningSwitch {
  /** The program on air. */
  readonly spec: ProgramSpec;
  /** The key of the codec the switch was opened with. */
  readonly codecKey: string;
  /** `layersKey` of its lanes. */
  readonly layersKey: string;
  /** The program's own RTP output (its audios) has closed under it. */
  readonly outputClosed: boolean;
}

/**
 * Whether a new program can be applied to the running switch, when only the
 * speaker or the set of host videos changed (same audio mix, still the speaker
 * layout, same codec and lanes): then sources are added and removed and the
 * speaker selected, with no FFmpeg restart. Otherwise it is a program change.
 */
export function switchesInPlace(running: RunningSwitch, next: { spec: ProgramSpec; codec: SwitchCodecChoice; layers: LaneLayer[] | undefined | string }): boolean {
  const { spec } = next;
  if (spec.mode !== 'speaker' || spec.slate || !sameAudios(spec, running.spec)) return false;
  if (running.outputClosed) return false;
  if ('reason' in next.codec || next.codec.key !== running.codecKey) return false;
  if (typeof next.layers === 'string' || layersKey(next.layers) !== running.layersKey) return false;
  return true;
}
