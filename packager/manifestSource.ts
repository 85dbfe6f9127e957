/**
 * What the manifest builders (hlsMediaPlaylist.ts, hlsMultivariant.ts,
 * dashMpd.ts) read of a broadcast: its tracks and its state, never its I/O.
 * A Broadcast hands them one per build; a test can hand them one made by hand.
 * The builders return models; hls.ts and dash.ts serialize them.
 */
import type { PackagerConfig } from './config.ts';
import type { CaptionTrack } from './captionTrack.ts';
import type { HlsDateRange } from './hls.ts';
import type { Segmenter } from './segmenter.ts';
import type { TimelineEvent } from './timeline.ts';
import type { Track } from './track.ts';
import type { Segment } from './types.ts';

/** What the builders read of a track (a Track is one). */
export type ManifestTrack = Readonly<
  Pick<Track, 'id' | 'init' | 'kind' | 'current' | 'segments' | 'targetDuration' | 'failure' | 'bandwidth' | 'averageBitrate' | 'frameRate' | 'periodStarts' | 'initUpload' | 'playlistStored'>
> & { readonly segmenter: Pick<Segmenter, 'nextPartStartsSegment'> };

export interface ManifestSource {
  readonly config: PackagerConfig;
  /** In opening order. */
  readonly tracks: readonly ManifestTrack[];
  readonly ended: boolean;
  /** When the broadcast ended (the static MPD's publishTime). */
  readonly endedAt: number | undefined;
  /** The timeline's events, in time order. */
  readonly timeline: readonly TimelineEvent[];
  /** The EXT-X-DATERANGEs of a media playlist whose first segment starts at `fromMs` (timeline.ts `timelineDateRanges`). */
  dateRanges(fromMs: number): readonly HlsDateRange[];
  /** The captions rendition (undefined when off) and the track it follows. */
  readonly captions: CaptionTrack | undefined;
  readonly captionReference: ManifestTrack | undefined;
  /** Whether every expected track can be started on (latched): until then no multivariant playlist or MPD. */
  expectedReady(): boolean;
  /** Whether a track has enough complete media to be started on (latched): until then no playlist of it. */
  startable(track: ManifestTrack): boolean;
  /** The availability clock's zero of a period, ms (availabilityClock.ts), if it has one. */
  availabilityZero(period: number): number | undefined;
  /** The periods whose segments left the target grid (dashMpd.ts `OffGridPeriods`): the one thing a build records. */
  readonly offGrid: { check(trackId: string, period: number, segs: readonly Segment[], targetTicks: number): boolean };
}

/**
 * What a store manifest may name: segments up to the first one whose upload (or
 * whose init segment's upload) has not settled yet. Dropped or failed segments
 * stay in the list (HLS marks them EXT-X-GAP), so numbering is unchanged.
 */
export function storedPrefix(track: ManifestTrack, list: Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const s of list) {
    if (s.upload === undefined || s.upload === 'pending' || track.initUpload.get(s.period) !== 'stored') break;
    out.push(s);
  }
  return out;
}
