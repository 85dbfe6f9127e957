/**
 * LL-HLS playlist models and serializers (draft-pantos-hls-rfc8216bis).
 * Pure data in, text out: no I/O, no clocks. One small function per tag.
 */

export interface HlsPart {
  readonly uri: string;
  /** Seconds. */
  readonly duration: number;
  readonly independent: boolean;
}

export interface HlsSegment {
  readonly uri: string;
  /** Seconds. */
  readonly duration: number;
  readonly discontinuity: boolean;
  /** EXT-X-MAP URI that applies to this segment (none for WebVTT). */
  readonly mapUri?: string;
  /** ms since the epoch. */
  readonly programDateTime?: number;
  /** Parts listed (only near the live edge). */
  readonly parts?: readonly HlsPart[];
  /** false for the segment in progress: only its parts are written, no EXTINF/URI. */
  readonly complete: boolean;
  /** EXT-X-GAP: the segment is unavailable (its upload to the store was dropped or failed). */
  readonly gap?: boolean;
}

/** EXT-X-DATERANGE (§4.4.5.1): a span or point of wall-clock time with attributes. */
export interface HlsDateRange {
  readonly id: string;
  readonly class?: string;
  /** ms since the epoch. */
  readonly startDate: number;
  /** Seconds. */
  readonly duration?: number;
  /** Ends where the next range of the same CLASS starts (needs `class`; no duration). */
  readonly endOnNext?: boolean;
  /** `X-<NAME>` attributes, by lower-case name, as quoted strings. */
  readonly clientAttributes?: Readonly<Record<string, string>>;
}

export interface ServerControl {
  readonly canBlockReload: boolean;
  /** Seconds. */
  readonly partHoldBack?: number;
  readonly holdBack?: number;
  readonly canSkipUntil?: number;
  readonly canSkipDateRanges?: boolean;
}

export interface RenditionReport {
  readonly uri: string;
  readonly lastMsn: number;
  readonly lastPart?: number;
}

export interface MediaPlaylist {
  readonly version: number;
  /** Integer seconds. */
  readonly targetDuration: number;
  /** Seconds; absent for a playlist without parts. */
  readonly partTarget?: number;
  readonly serverControl?: ServerControl;
  readonly playlistType?: 'VOD' | 'EVENT';
  readonly independentSegments: boolean;
  readonly mediaSequence: number;
  readonly discontinuitySequence: number;
  /** Delta update: the number of segments replaced by EXT-X-SKIP. */
  readonly skip?: { readonly skippedSegments: number; readonly recentlyRemovedDateRanges?: readonly string[] };
  readonly segments: readonly HlsSegment[];
  /** Listed after the header; a playlist with any also has PROGRAM-DATE-TIMEs. */
  readonly dateRanges?: readonly HlsDateRange[];
  readonly preloadHint?: { readonly type: 'PART' | 'MAP'; readonly uri: string };
  readonly renditionReports: readonly RenditionReport[];
  readonly endList: boolean;
}

export interface VariantStream {
  readonly uri: string;
  readonly bandwidth: number;
  readonly averageBandwidth?: number;
  readonly codecs: string;
  readonly resolution?: { readonly width: number; readonly height: number };
  readonly frameRate?: number;
  readonly audioGroup?: string;
  readonly subtitlesGroup?: string;
}

export interface AudioRendition {
  readonly groupId: string;
  readonly name: string;
  readonly uri: string;
  readonly default: boolean;
  readonly channels?: number;
  readonly language?: string;
}

/** EXT-X-MEDIA TYPE=SUBTITLES (§4.4.6.1): a WebVTT rendition. */
export interface SubtitleRendition {
  readonly groupId: string;
  readonly name: string;
  readonly uri: string;
  readonly language: string;
  readonly default: boolean;
}

export interface MultivariantPlaylist {
  readonly version: number;
  readonly independentSegments: boolean;
  readonly audio: readonly AudioRendition[];
  readonly subtitles?: readonly SubtitleRendition[];
  readonly variants: readonly VariantStream[];
}

/** Decimal seconds with up to 5 places and no trailing zeros. */
export function decimal(n: number): string {
  return String(Number(n.toFixed(5)));
}

const quoted = (s: string): string => `"${s.replace(/"/g, '')}"`;
const yesNo = (b: boolean): string => (b ? 'YES' : 'NO');

function attrs(list: [string, string | undefined][]): string {
  return list
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export const tag = {
  version: (v: number) => `#EXT-X-VERSION:${v}`,
  targetDuration: (t: number) => `#EXT-X-TARGETDURATION:${t}`,
  partInf: (p: number) => `#EXT-X-PART-INF:PART-TARGET=${decimal(p)}`,
  serverControl: (s: ServerControl) =>
    `#EXT-X-SERVER-CONTROL:${attrs([
      ['CAN-BLOCK-RELOAD', s.canBlockReload ? 'YES' : undefined],
      ['CAN-SKIP-UNTIL', s.canSkipUntil !== undefined ? decimal(s.canSkipUntil) : undefined],
      ['CAN-SKIP-DATERANGES', s.canSkipDateRanges ? 'YES' : undefined],
      ['HOLD-BACK', s.holdBack !== undefined ? decimal(s.holdBack) : undefined],
      ['PART-HOLD-BACK', s.partHoldBack !== undefined ? decimal(s.partHoldBack) : undefined],
    ])}`,
  playlistType: (t: string) => `#EXT-X-PLAYLIST-TYPE:${t}`,
  independentSegments: () => '#EXT-X-INDEPENDENT-SEGMENTS',
  mediaSequence: (n: number) => `#EXT-X-MEDIA-SEQUENCE:${n}`,
  discontinuitySequence: (n: number) => `#EXT-X-DISCONTINUITY-SEQUENCE:${n}`,
  skip: (n: number, removed?: readonly string[]) =>
    `#EXT-X-SKIP:${attrs([
      ['SKIPPED-SEGMENTS', String(n)],
      ['RECENTLY-REMOVED-DATERANGES', removed ? quoted(removed.join('\t')) : undefined],
    ])}`,
  dateRange: (d: HlsDateRange) =>
    `#EXT-X-DATERANGE:${attrs([
      ['ID', quoted(d.id)],
      ['CLASS', d.class !== undefined ? quoted(d.class) : undefined],
      ['START-DATE', quoted(new Date(d.startDate).toISOString())],
      ['DURATION', d.duration !== undefined ? decimal(d.duration) : undefined],
      ['END-ON-NEXT', d.endOnNext ? 'YES' : undefined],
      ...Object.entries(d.clientAttributes ?? {}).map(([k, v]): [string, string] => [`X-${k.toUpperCase()}`, quoted(v.replace(/[\r\n]/g, ' '))]),
    ])}`,
  discontinuity: () => '#EXT-X-DISCONTINUITY',
  gap: () => '#EXT-X-GAP',
  map: (uri: string) => `#EXT-X-MAP:URI=${quoted(uri)}`,
  programDateTime: (ms: number) => `#EXT-X-PROGRAM-DATE-TIME:${new Date(ms).toISOString()}`,
  part: (p: HlsPart) =>
    `#EXT-X-PART:${attrs([
      ['DURATION', decimal(p.duration)],
      ['URI', quoted(p.uri)],
      ['INDEPENDENT', p.independent ? 'YES' : undefined],
    ])}`,
  extinf: (d: number) => `#EXTINF:${decimal(d)},`,
  preloadHint: (type: string, uri: string) => `#EXT-X-PRELOAD-HINT:TYPE=${type},URI=${quoted(uri)}`,
  renditionReport: (r: RenditionReport) =>
    `#EXT-X-RENDITION-REPORT:${attrs([
      ['URI', quoted(r.uri)],
      ['LAST-MSN', String(r.lastMsn)],
      ['LAST-PART', r.lastPart !== undefined ? String(r.lastPart) : undefined],
    ])}`,
  endList: () => '#EXT-X-ENDLIST',
  media: (a: AudioRendition) =>
    `#EXT-X-MEDIA:${attrs([
      ['TYPE', 'AUDIO'],
      ['GROUP-ID', quoted(a.groupId)],
      ['NAME', quoted(a.name)],
      ['LANGUAGE', a.language !== undefined ? quoted(a.language) : undefined],
      ['DEFAULT', yesNo(a.default)],
      ['AUTOSELECT', 'YES'],
      ['CHANNELS', a.channels !== undefined ? quoted(String(a.channels)) : undefined],
      ['URI', quoted(a.uri)],
    ])}`,
  subtitles: (r: SubtitleRendition) =>
    `#EXT-X-MEDIA:${attrs([
      ['TYPE', 'SUBTITLES'],
      ['GROUP-ID', quoted(r.groupId)],
      ['NAME', quoted(r.name)],
      ['LANGUAGE', quoted(r.language)],
      ['DEFAULT', yesNo(r.default)],
      ['AUTOSELECT', 'YES'],
      ['FORCED', 'NO'],
      // Transcribed speech for viewers who cannot hear it (§4.4.6.1 CHARACTERISTICS).
      ['CHARACTERISTICS', quoted('public.accessibility.transcribes-spoken-dialog')],
      ['URI', quoted(r.uri)],
    ])}`,
  streamInf: (v: VariantStream) =>
    `#EXT-X-STREAM-INF:${attrs([
      ['BANDWIDTH', String(Math.round(v.bandwidth))],
      ['AVERAGE-BANDWIDTH', v.averageBandwidth !== undefined ? String(Math.round(v.averageBandwidth)) : undefined],
      ['CODECS', quoted(v.codecs)],
      ['RESOLUTION', v.resolution ? `${v.resolution.width}x${v.resolution.height}` : undefined],
      ['FRAME-RATE', v.frameRate !== undefined ? v.frameRate.toFixed(3) : undefined],
      ['AUDIO', v.audioGroup !== undefined ? quoted(v.audioGroup) : undefined],
      ['SUBTITLES', v.subtitlesGroup !== undefined ? quoted(v.subtitlesGroup) : undefined],
    ])}`,
};

export function serializeMediaPlaylist(p: MediaPlaylist): string {
  const out: string[] = ['#EXTM3U', tag.version(p.version), tag.targetDuration(p.targetDuration)];
  if (p.partTarget !== undefined) out.push(tag.partInf(p.partTarget));
  if (p.serverControl) out.push(tag.serverControl(p.serverControl));
  if (p.playlistType) out.push(tag.playlistType(p.playlistType));
  if (p.independentSegments) out.push(tag.independentSegments());
  out.push(tag.mediaSequence(p.mediaSequence), tag.discontinuitySequence(p.discontinuitySequence));
  if (p.skip) out.push(tag.skip(p.skip.skippedSegments, p.skip.recentlyRemovedDateRanges));
  for (const d of p.dateRanges ?? []) out.push(tag.dateRange(d));
  let map: string | undefined;
  p.segments.forEach((s, i) => {
    if (s.discontinuity && !(i === 0 && !p.skip)) out.push(tag.discontinuity());
    if (s.mapUri !== undefined && s.mapUri !== map) {
      out.push(tag.map(s.mapUri));
      map = s.mapUri;
    }
    if (s.programDateTime !== undefined) out.push(tag.programDateTime(s.programDateTime));
    for (const part of s.parts ?? []) out.push(tag.part(part));
    if (s.gap) out.push(tag.gap());
    if (s.complete) out.push(tag.extinf(s.duration), s.uri);
  });
  if (p.preloadHint) out.push(tag.preloadHint(p.preloadHint.type, p.preloadHint.uri));
  for (const r of p.renditionReports) out.push(tag.renditionReport(r));
  if (p.endList) out.push(tag.endList());
  return out.join('\n') + '\n';
}

export function serializeMultivariantPlaylist(p: MultivariantPlaylist): string {
  const out: string[] = ['#EXTM3U', tag.version(p.version)];
  if (p.independentSegments) out.push(tag.independentSegments());
  for (const a of p.audio) out.push(tag.media(a));
  for (const r of p.subtitles ?? []) out.push(tag.subtitles(r));
  for (const v of p.variants) out.push(tag.streamInf(v), v.uri);
  return out.join('\n') + '\n';
}

/**
 * A delta update of `full` (§6.2.5.1): segments that end more than
 * `canSkipUntil` seconds before the playlist's end are replaced by EXT-X-SKIP.
 * The discontinuity and map state carry over, since the client keeps the
 * skipped segments from its previous copy.
 */
export function deltaUpdate(full: MediaPlaylist, canSkipUntil: number, v2: boolean): MediaPlaylist {
  const total = full.segments.reduce((a, s) => a + s.duration, 0);
  let acc = 0;
  let skipped = 0;
  for (const s of full.segments) {
    if (!s.complete || total - acc - s.duration < canSkipUntil) break;
    // Only skip when the whole segment ends before the skip boundary.
    if (total - (acc + s.duration) < canSkipUntil) break;
    acc += s.duration;
    skipped++;
  }
  if (skipped === 0) return full;
  return {
    ...full,
    skip: { skippedSegments: skipped, ...(v2 ? { recentlyRemovedDateRanges: [] } : {}) },
    segments: full.segments.slice(skipped),
  };
}
