/**
 * Stable object names under `/live/<broadcastId>/` (and object-store keys
 * `<broadcastId>/…`). Documented in packager/README.md.
 */
export const names = {
  master: 'master.m3u8',
  mpd: 'manifest.mpd',
  /** The speaker turns as WebVTT chapters (packager/timeline.ts). */
  chapters: 'chapters.vtt',
  /** The WebVTT thumbnails track (packager/thumbnails.ts) and the folder of its images. */
  thumbnailsTrack: 'thumbnails.vtt',
  thumbnails: 'thumbs',
  /** A picture of the broadcast for link previews. */
  poster: 'poster.jpg',
  /** The folder of the captions rendition (packager/captions.ts): a reserved track id. */
  captions: 'captions',
  /** The whole recording's captions as one WebVTT file (stored when the broadcast ends). */
  captionsTrack: 'captions.vtt',
  /** A segmented WebVTT segment and part of the captions rendition (HLS). */
  vttSegment: (msn: number) => `seg-${msn}.vtt`,
  vttPart: (msn: number, index: number) => `part-${msn}.${index}.vtt`,
  playlist: 'index.m3u8',
  init: (period: number) => `init-${period}.mp4`,
  segment: (msn: number) => `seg-${msn}.m4s`,
  part: (msn: number, index: number) => `part-${msn}.${index}.m4s`,
};

export type ObjectName =
  | { type: 'init'; period: number }
  | { type: 'segment'; msn: number }
  | { type: 'part'; msn: number; index: number }
  | { type: 'playlist' };

/** The broadcast's WebVTT side files beside its playlists (Broadcast.textFile). */
export const textFiles: readonly string[] = [names.chapters, names.thumbnailsTrack, names.captionsTrack];

export type CaptionObjectName =
  | { type: 'playlist' }
  | { type: 'vtt-segment'; msn: number }
  | { type: 'vtt-part'; msn: number; index: number }
  /** DASH: the wvtt init segment of a source session and the wvtt segments. */
  | { type: 'init'; period: number }
  | { type: 'segment'; msn: number };

/** Parses an object name under `captions/`; undefined for anything we never produce. */
export function parseCaptionObjectName(name: string): CaptionObjectName | undefined {
  let m: RegExpExecArray | null;
  if ((m = /^seg-(\d{1,12})\.vtt$/.exec(name))) return { type: 'vtt-segment', msn: Number(m[1]) };
  if ((m = /^part-(\d{1,12})\.(\d{1,4})\.vtt$/.exec(name))) return { type: 'vtt-part', msn: Number(m[1]), index: Number(m[2]) };
  const obj = parseTrackObjectName(name);
  return obj?.type === 'part' ? undefined : obj;
}

/** Parses a per-track object name; undefined for anything we never produce. */
export function parseTrackObjectName(name: string): ObjectName | undefined {
  let m: RegExpExecArray | null;
  if (name === names.playlist) return { type: 'playlist' };
  if ((m = /^init-(\d{1,9})\.mp4$/.exec(name))) return { type: 'init', period: Number(m[1]) };
  if ((m = /^seg-(\d{1,12})\.m4s$/.exec(name))) return { type: 'segment', msn: Number(m[1]) };
  if ((m = /^part-(\d{1,12})\.(\d{1,4})\.m4s$/.exec(name))) return { type: 'part', msn: Number(m[1]), index: Number(m[2]) };
  return undefined;
}

export function contentTypes(name: string, kind: 'video' | 'audio' | 'text' | undefined): string {
  if (kind === 'text' && (name.endsWith('.mp4') || name.endsWith('.m4s'))) return 'application/mp4';
  if (name.endsWith('.m3u8')) return 'application/vnd.apple.mpegurl';
  if (name.endsWith('.mpd')) return 'application/dash+xml';
  if (name.endsWith('.vtt')) return 'text/vtt; charset=utf-8';
  if (name.endsWith('.jpg')) return 'image/jpeg';
  if (name.endsWith('.mp4')) return kind === 'audio' ? 'audio/mp4' : 'video/mp4';
  if (name.endsWith('.m4s')) return kind === 'audio' ? 'audio/mp4' : 'video/iso.segment';
  return 'application/octet-stream';
}

/**
 * Cache-Control for CDN origin pulls (AWS MediaPackage CDN guidance, gohlslib):
 * media never changes once written; LL playlists change every part, but a
 * request with delivery directives names one unique version, so it may be
 * cached briefly; the multivariant playlist and the MPD are short-lived.
 */
export const cacheControl = {
  immutable: 'public, max-age=1209600, immutable',
  notFound: 'no-cache',
  error: 'no-store',
  manifest(name: string, ended: boolean, directives: boolean): string {
    if (ended) return 'public, max-age=3600';
    if (name.endsWith('.m3u8') && name !== names.master) return directives ? 'public, max-age=6' : 'public, max-age=1';
    if (name === names.master) return 'public, max-age=2';
    return 'public, max-age=1';
  },
};

/** Content-Type and Cache-Control of a media object (init segment, segment, part, image): immutable. */
export function mediaMeta(name: string, kind: 'video' | 'audio' | 'text' | undefined) {
  return { contentType: contentTypes(name, kind), cacheControl: cacheControl.immutable };
}

/** Content-Type and Cache-Control of a manifest or side file (`directives`: a blocking request, see cacheControl.manifest). */
export function manifestMeta(name: string, ended: boolean, directives: boolean) {
  return { contentType: contentTypes(name, undefined), cacheControl: cacheControl.manifest(name, ended, directives) };
}
