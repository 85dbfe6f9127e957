/**
 * DASH MPD model and serializer (ISO/IEC 23009-1, DASH-IF low-latency
 * guidelines). Pure: `publishTime` and all times come in as data.
 * It describes the same CMAF objects the HLS playlists name.
 */

export interface DashTimelineEntry {
  /** Start, representation timescale. */
  readonly t: number;
  readonly d: number;
}

export interface DashRepresentation {
  readonly id: string;
  readonly bandwidth: number;
  readonly codecs: string;
  readonly width?: number;
  readonly height?: number;
  readonly frameRate?: number;
  readonly audioSamplingRate?: number;
  readonly channels?: number;
  readonly timescale: number;
  readonly initialization: string;
  /** Template with $Number$. */
  readonly media: string;
  readonly startNumber: number;
  readonly presentationTimeOffset: number;
  readonly timeline: readonly DashTimelineEntry[];
  /** Number addressing (`SegmentTemplate@duration`, no timeline), representation timescale. */
  readonly duration?: number;
}

export interface DashAdaptationSet {
  readonly id: number;
  readonly contentType: 'video' | 'audio' | 'text';
  readonly mimeType: string;
  readonly lang?: string;
  /** Role (urn:mpeg:dash:role:2011), e.g. `subtitle`. */
  readonly role?: string;
  readonly representations: readonly DashRepresentation[];
}

/** An event of a Period's EventStream (timescale 1000: ms from the Period's start). */
export interface DashEvent {
  readonly id: string;
  readonly presentationTime: number;
  readonly duration?: number;
  readonly messageData?: string;
}

export interface DashEventStream {
  readonly schemeIdUri: string;
  readonly value: string;
  readonly events: readonly DashEvent[];
}

export interface DashPeriod {
  readonly id: string;
  /** Seconds from availabilityStartTime (dynamic) or from the start (static). */
  readonly start: number;
  /** MPD events (ISO/IEC 23009-1 §5.10.2), before the adaptation sets. */
  readonly eventStreams?: readonly DashEventStream[];
  readonly adaptationSets: readonly DashAdaptationSet[];
}

export interface Mpd {
  readonly type: 'dynamic' | 'static';
  /** ms since the epoch. */
  readonly availabilityStartTime: number;
  readonly publishTime: number;
  /** Seconds (static only). */
  readonly mediaPresentationDuration?: number;
  /** Seconds (dynamic only). */
  readonly minimumUpdatePeriod?: number;
  readonly timeShiftBufferDepth?: number;
  readonly maxSegmentDuration: number;
  readonly minBufferTime: number;
  /** LL-DASH: the in-progress segment is available this many seconds early (chunked transfer). */
  readonly availabilityTimeOffset?: number;
  /** ServiceDescription: latency target and bounds, ms, and the playback rates a player may use to hold it. */
  readonly latency?: {
    readonly targetMs: number;
    readonly minMs: number;
    readonly maxMs: number;
    readonly minPlaybackRate: number;
    readonly maxPlaybackRate: number;
  };
  readonly periods: readonly DashPeriod[];
  /**
   * Absolute URL answering the server's time as xs:dateTime (UTCTiming
   * http-xsdate), listed before the `direct` value. dash.js applies a direct
   * value at the moment it syncs, which can be seconds after the MPD was
   * fetched, so its clock runs late by that much; a time URL it asks itself.
   */
  readonly utcTimingUrl?: string;
}

export function duration(seconds: number): string {
  return `PT${Number(seconds.toFixed(3))}S`;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

function el(name: string, attrs: Record<string, string | number | undefined>, children?: string[]): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${esc(String(v))}"`)
    .join('');
  if (!children || children.length === 0) return `<${name}${a}/>`;
  return `<${name}${a}>\n${children.join('\n')}\n</${name}>`;
}

function timeline(entries: readonly DashTimelineEntry[]): string {
  // Run-length encode equal durations that follow each other without a gap.
  const out: string[] = [];
  let i = 0;
  while (i < entries.length) {
    const e = entries[i]!;
    let r = 0;
    while (i + r + 1 < entries.length && entries[i + r + 1]!.d === e.d && entries[i + r + 1]!.t === e.t + (r + 1) * e.d) r++;
    const prev = entries[i - 1];
    const needT = i === 0 || !prev || prev.t + prev.d !== e.t;
    out.push(el('S', { t: needT ? e.t : undefined, d: e.d, r: r > 0 ? r : undefined }));
    i += r + 1;
  }
  return el('SegmentTimeline', {}, out);
}

function representation(r: DashRepresentation, mpd: Mpd): string {
  const live = mpd.type === 'dynamic' && mpd.availabilityTimeOffset !== undefined;
  return el(
    'Representation',
    {
      id: r.id,
      bandwidth: Math.round(r.bandwidth),
      codecs: r.codecs,
      width: r.width,
      height: r.height,
      frameRate: r.frameRate !== undefined ? Number(r.frameRate.toFixed(3)) : undefined,
      audioSamplingRate: r.audioSamplingRate,
    },
    [
      ...(r.channels !== undefined
        ? [el('AudioChannelConfiguration', { schemeIdUri: 'urn:mpeg:dash:23003:3:audio_channel_configuration:2011', value: r.channels })]
        : []),
      el(
        'SegmentTemplate',
        {
          timescale: r.timescale,
          initialization: r.initialization,
          media: r.media,
          startNumber: r.startNumber,
          presentationTimeOffset: r.presentationTimeOffset,
          duration: r.duration,
          availabilityTimeOffset: live ? Number(mpd.availabilityTimeOffset!.toFixed(3)) : undefined,
          availabilityTimeComplete: live ? 'false' : undefined,
        },
        r.duration !== undefined ? [] : [timeline(r.timeline)],
      ),
    ],
  );
}

export function serializeMpd(mpd: Mpd): string {
  const dynamic = mpd.type === 'dynamic';
  const children: string[] = [];
  if (mpd.latency) {
    children.push(
      el('ServiceDescription', { id: 0 }, [
        el('Latency', { referenceId: 0, target: mpd.latency.targetMs, min: mpd.latency.minMs, max: mpd.latency.maxMs }),
        el('PlaybackRate', { min: mpd.latency.minPlaybackRate, max: mpd.latency.maxPlaybackRate }),
      ]),
    );
  }
  for (const p of mpd.periods) {
    children.push(
      el(
        'Period',
        { id: p.id, start: duration(p.start) },
        [
          ...(p.eventStreams ?? []).map((s) =>
            el(
              'EventStream',
              { schemeIdUri: s.schemeIdUri, value: s.value, timescale: 1000 },
              s.events.map((e) => el('Event', { id: e.id, presentationTime: Math.round(e.presentationTime), duration: e.duration !== undefined ? Math.round(e.duration) : undefined, messageData: e.messageData })),
            ),
          ),
          ...p.adaptationSets.map((a) =>
            el(
              'AdaptationSet',
              { id: a.id, contentType: a.contentType, mimeType: a.mimeType, lang: a.lang, segmentAlignment: 'true', startWithSAP: 1 },
              [...(a.role ? [el('Role', { schemeIdUri: 'urn:mpeg:dash:role:2011', value: a.role })] : []), ...a.representations.map((r) => representation(r, mpd))],
            ),
          ),
        ],
      ),
    );
  }
  if (dynamic) {
    if (mpd.utcTimingUrl) children.push(el('UTCTiming', { schemeIdUri: 'urn:mpeg:dash:utc:http-xsdate:2014', value: mpd.utcTimingUrl }));
    children.push(el('UTCTiming', { schemeIdUri: 'urn:mpeg:dash:utc:direct:2014', value: new Date(mpd.publishTime).toISOString() }));
  }
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    el(
      'MPD',
      {
        xmlns: 'urn:mpeg:dash:schema:mpd:2011',
        profiles: 'urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019',
        type: mpd.type,
        availabilityStartTime: dynamic ? new Date(mpd.availabilityStartTime).toISOString() : undefined,
        publishTime: new Date(mpd.publishTime).toISOString(),
        mediaPresentationDuration: mpd.mediaPresentationDuration !== undefined ? duration(mpd.mediaPresentationDuration) : undefined,
        minimumUpdatePeriod: dynamic && mpd.minimumUpdatePeriod !== undefined ? duration(mpd.minimumUpdatePeriod) : undefined,
        timeShiftBufferDepth: dynamic && mpd.timeShiftBufferDepth !== undefined ? duration(mpd.timeShiftBufferDepth) : undefined,
        maxSegmentDuration: duration(mpd.maxSegmentDuration),
        minBufferTime: duration(mpd.minBufferTime),
      },
      children,
    ) +
    '\n'
  );
}
