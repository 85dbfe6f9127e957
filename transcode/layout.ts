import { InputError } from '../common/index.ts';
import { ladderRungs, selectRungs, type Rung, type TranscodeConfig } from './config.ts';
import type { ComposeSpec, ProgramInput } from './compose.ts';
import { codecOf } from './rtpSession.ts';
import type { TrackInfo } from './types.ts';

/**
 * The CMAF tracks of one broadcast, decided once when its transcoder is made
 * and the same for every FFmpeg run after (the packager's tracks and the
 * players' renditions cannot change mid-broadcast):
 * - `ladder`: every run encodes these rungs (none above the program's
 *   source, see `programSourceHeight`);
 * - `single`: one video track, copied from the host while the program is one
 *   H.264 video (no decode, no encode) and encoded as `rung` while it is not
 *   (a grid of hosts, the slate, another codec), so the stage may change
 *   without the broadcast breaking;
 * - `simulcast`: one video track per simulcast layer of the first program's
 *   host (`rungs`, highest first), each copied from its layer while the program
 *   is one such host full frame, and encoded as its rung while it is not.
 */
export type TrackLayout =
  | { readonly kind: 'ladder'; readonly rungs: readonly Rung[] }
  | { readonly kind: 'single'; readonly rung: Rung }
  | { readonly kind: 'simulcast'; readonly rungs: readonly Rung[] };

/**
 * The height at which the composed frame shows every video at 1:1 or smaller:
 * a cell of `cell.width × cell.height` (fractions of a 16:9 canvas) holding a
 * `w × h` source fits it unscaled on a canvas of height max(9w / 16cw, h / ch).
 * Undefined when a video's size is unknown (a WHIP host: no size is signalled)
 * or there is no video (the slate is fitted to any canvas).
 */
export function programSourceHeight(spec: ComposeSpec): number | undefined {
  if (spec.videos.length === 0) return undefined;
  let height = 0;
  for (const v of spec.videos) {
    if (!v.source) return undefined;
    height = Math.max(height, (9 * v.source.width) / (16 * v.cell.width), v.source.height / v.cell.height);
  }
  return Math.round(height);
}

/** Whether a program can go out with its video copied: exactly one video, H.264, filling the frame. */
export function programCopiable(program: ProgramInput): boolean {
  const { videos } = program.compose;
  if (videos.length !== 1 || !program.rtp) return false;
  const cell = videos[0]!.cell;
  if (cell.x !== 0 || cell.y !== 0 || cell.width !== 1 || cell.height !== 1) return false;
  const video = program.rtp.tracks.find((t) => t.kind === 'video');
  return video !== undefined && codecOf(video) === 'H264';
}

/** Whether a program's simulcast layers can be copied into the layout's renditions: one H.264 video full frame, as many layers as renditions. */
export function layersCopiable(layout: Extract<TrackLayout, { kind: 'simulcast' }>, program: ProgramInput): boolean {
  const layers = program.simulcast?.heights.length ?? 0;
  if (layers !== layout.rungs.length || !programCopiable(program)) return false;
  const videos = program.rtp!.tracks.filter((t) => t.kind === 'video');
  return videos.length === layers && videos.every((v) => codecOf(v) === 'H264');
}

/**
 * The renditions of a simulcast layout: one per layer, highest first, named by
 * the layer's height (`video-720p`) or, when the publisher did not say it (a
 * WHIP client), by its place (`video-layer0` is the top). A layer's bitrate,
 * used when the program has to be encoded, is that of the configured rung
 * nearest its height.
 */
export function simulcastRungs(config: TranscodeConfig, heights: readonly (number | undefined)[]): Rung[] {
  const ladder = ladderRungs(config);
  const top = ladder[0]!;
  const names = new Set<string>();
  return heights.map((known, i) => {
    const height = known ?? Math.max(64, Math.round(top.height / 2 ** i / 2) * 2);
    let name = known !== undefined ? `${known}p` : `layer${i}`;
    if (names.has(name)) name = `layer${i}`;
    names.add(name);
    const nearest = [...ladder].sort((a, b) => Math.abs(a.height - height) - Math.abs(b.height - height))[0]!;
    return { name, height, bitrateKbps: nearest.bitrateKbps };
  });
}

/**
 * The height a copied rendition must carry to be what its name says: a
 * simulcast layer named by the height its publisher signalled (`video-720p`).
 * A copy is what the publisher's encoder made, and an encoder that scales its
 * layers down (CPU or bandwidth short) makes it carry another size under that
 * name. Undefined when FFmpeg encodes the rendition (it makes the size) or the
 * name promises none (`video-layer0`, `video-source`).
 */
export function promisedHeight(track: TrackInfo): number | undefined {
  const { kind, passthrough, height, trackId } = track;
  return kind === 'video' && passthrough && height !== undefined && trackId === `video-${height}p` ? height : undefined;
}

/** The layout for a broadcast whose first program is `program` (see `TrackLayout`). Pure. */
export function chooseLayout(config: TranscodeConfig, program: ProgramInput): TrackLayout {
  const rungs = selectRungs(ladderRungs(config), programSourceHeight(program.compose));
  const top = rungs[0];
  if (!top) throw new InputError('invalid-config', 'the ladder has no rungs');
  const single = (): TrackLayout => ({ kind: 'single', rung: { ...top, name: config.passthroughName } });
  if (config.mode === 'passthrough') return single();
  const layers = program.simulcast?.heights ?? [];
  if ((config.mode === 'simulcast' || config.mode === 'auto') && layers.length > 1) {
    const layout: TrackLayout = { kind: 'simulcast', rungs: simulcastRungs(config, layers) };
    if (layersCopiable(layout, program)) return layout;
  }
  if (config.mode === 'auto' && programCopiable(program)) return single();
  return { kind: 'ladder', rungs };
}

/** The rungs a run encodes when it does not copy: the ladder's, or the single track's. */
export function encodedRungs(layout: TrackLayout): readonly Rung[] {
  return layout.kind === 'single' ? [layout.rung] : layout.rungs;
}
