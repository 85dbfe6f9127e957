import type { ComposeCell } from '../transcode/index.ts';

/**
 * The program model: which hosts' tracks a broadcast carries and where. Pure
 * (no I/O, no clocks): the stage's hosts in, a program spec out. The broadcast
 * compares specs and restarts FFmpeg only when the spec really changes.
 */

export type LayoutMode = 'grid' | 'speaker';
export const LAYOUT_MODES: readonly LayoutMode[] = ['grid', 'speaker'];

/** One host as the composition sees it: its tracks, and whether each is paused (muted). */
export interface CompositionHost {
  readonly id: string;
  readonly video?: { readonly producerId: string; readonly paused: boolean };
  readonly audio?: { readonly producerId: string; readonly paused: boolean };
}

export interface ProgramSpec {
  readonly mode: LayoutMode;
  /** Video inputs in the RTP session's order, each with its cell (fractions of the frame). */
  readonly videos: readonly { readonly hostId: string; readonly producerId: string; readonly cell: ComposeCell }[];
  /** Audio inputs in the RTP session's order, all mixed. */
  readonly audios: readonly { readonly hostId: string; readonly producerId: string }[];
  /** No host sends video: the slate is shown. */
  readonly slate: boolean;
}

/** Cells of an n-host grid: ⌈√n⌉ columns, rows as needed, filled row by row. */
export function gridCells(n: number): ComposeCell[] {
  if (!Number.isInteger(n) || n < 0) throw new TypeError(`bad host count ${n}`);
  if (n === 0) return [];
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  return Array.from({ length: n }, (_, i) => ({ x: (i % cols) / cols, y: Math.floor(i / cols) / rows, width: 1 / cols, height: 1 / rows }));
}

/**
 * The program for a stage. Hosts come in join order (a stable grid). A paused
 * (muted) track is out of the program: FFmpeg's graph would stall on an input
 * that sends nothing. Speaker mode shows the active speaker's video when it
 * sends video, otherwise the first host that does.
 */
export function composeProgram(input: { hosts: readonly CompositionHost[]; mode: LayoutMode; speaker?: string | undefined }): ProgramSpec {
  const withVideo = input.hosts.filter((h) => h.video && !h.video.paused);
  let shown = withVideo;
  if (input.mode === 'speaker' && withVideo.length > 0) {
    shown = [withVideo.find((h) => h.id === input.speaker) ?? withVideo[0]!];
  }
  const cells = gridCells(shown.length);
  return {
    mode: input.mode,
    videos: shown.map((h, i) => ({ hostId: h.id, producerId: h.video!.producerId, cell: cells[i]! })),
    audios: input.hosts.filter((h) => h.audio && !h.audio.paused).map((h) => ({ hostId: h.id, producerId: h.audio!.producerId })),
    slate: shown.length === 0,
  };
}

/** Whether two specs make the same FFmpeg program (same inputs in the same cells). */
export function sameProgram(a: ProgramSpec, b: ProgramSpec): boolean {
  const key = (s: ProgramSpec) =>
    JSON.stringify([s.videos.map((v) => [v.producerId, v.cell.x, v.cell.y, v.cell.width, v.cell.height]), s.audios.map((x) => x.producerId)]);
  return key(a) === key(b);
}

/**
 * The hosts whose video can be on air in the speaker layout: every host whose
 * video is not paused, in join order. The speaker layout differs from the grid
 * in how it is run, not in what it shows: the program (`composeProgram`) still
 * holds one video, but the broadcast feeds FFmpeg that video through an RTP
 * switch whose sources are all of these hosts, so a speaker change (or a host
 * joining or leaving with only its video) is a switch at a keyframe rather than
 * an FFmpeg restart with a discontinuity for viewers.
 */
export function speakerSources(hosts: readonly CompositionHost[]): { hostId: string; producerId: string }[] {
  return hosts.filter((h) => h.video && !h.video.paused).map((h) => ({ hostId: h.id, producerId: h.video!.producerId }));
}

/** Whether two specs mix the same audio inputs. */
export function sameAudios(a: ProgramSpec, b: ProgramSpec): boolean {
  return JSON.stringify(a.audios.map((x) => x.producerId)) === JSON.stringify(b.audios.map((x) => x.producerId));
}
