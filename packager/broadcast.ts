import type { Writable } from 'node:stream';
import { BROADCAST_ID_PATTERN, InputError, InvalidStateError, TypedEmitter, type Logger } from '../common/index.ts';
import { configuredTargetDuration, type PackagerConfig } from './config.ts';
import type { PeriodAnchor } from './segmenter.ts';
import type { SourceSession } from './sourceSession.ts';
import { Track } from './track.ts';
import type { InitSegment, Part, Segment } from './types.ts';
import type { Publisher } from './store.ts';
import { deltaUpdate, serializeMediaPlaylist, serializeMultivariantPlaylist, type MediaPlaylist, type MultivariantPlaylist } from './hls.ts';
import { serializeMpd, type Mpd } from './dash.ts';
import { buildCaptionsPlaylist, buildMediaPlaylist } from './hlsMediaPlaylist.ts';
import { buildMultivariantPlaylist } from './hlsMultivariant.ts';
import { OffGridPeriods, buildMpd } from './dashMpd.ts';
import type { ManifestSource, ManifestTrack } from './manifestSource.ts';
import { ThumbnailTrack } from './thumbnailTrack.ts';
import { timelineChaptersVtt, type TimelineEvent } from './timeline.ts';
import { BroadcastTimeline } from './broadcastTimeline.ts';
import { AvailabilityClock } from './availabilityClock.ts';
import { CaptionTrack, type CaptionUpload } from './captionTrack.ts';
import type { Cue, CueInput } from './captions.ts';
import { names, cacheControl, textFiles, mediaMeta, manifestMeta } from './naming.ts';

/** Broadcast and track ids (URL path segments and store key prefixes). */
export const ID_PATTERN = BROADCAST_ID_PATTERN;

export interface BroadcastEvents {
  part: [trackId: string, segment: Segment, part: Part];
  segment: [trackId: string, segment: Segment];
  trackFailed: [trackId: string, error: Error];
  /** A track's init segment of a source session: what it really carries (codec, size). */
  init: [trackId: string, init: InitSegment];
  /** A timeline event was added (see addTimelineEvent). */
  timeline: [event: TimelineEvent];
  /** A caption cue was placed (see addCaption). */
  caption: [cue: Cue];
  /**
   * Every track now takes its media from transcoder run `run` (its source
   * sessions): the previous source feeds nothing, and its producer can stop. The one
   * judge of make-before-break (the transcoder waits for this, not for its own count).
   */
  sourceSwitched: [run: number];
  ended: [];
}

export interface BroadcastOptions {
  /** Label for logs and the playlist audio NAME. */
  title?: string;
  /**
   * The tracks the source will produce. Until each has media, no multivariant
   * playlist or MPD is served: a player loads those once, and one written while
   * the first track is alone would hide the others from it for good.
   */
  expectedTracks?: readonly string[];
}

/**
 * One live broadcast: its tracks (track.ts) and how a new source session
 * switches in on all of them, its timeline, thumbnails and captions, the
 * playlists and MPD built from its state (hlsMediaPlaylist.ts,
 * hlsMultivariant.ts, dashMpd.ts) and cached per version, and publishing to
 * the object store (media first, then manifests).
 */
export class Broadcast extends TypedEmitter<BroadcastEvents> {
  readonly id: string;
  readonly #tracks = new Map<string, Track>();
  readonly #config: PackagerConfig;
  readonly #logger: Logger;
  readonly #publisher: Publisher | undefined;
  #ended = false;
  #endedAt: number | undefined;
  #version = 0;
  /** The newest run announced by `sourceSwitched`. */
  #switchedRun: number | undefined;
  readonly #cache = new Map<string, { version: number; text: string; tag?: string; bytes?: Buffer }>();
  readonly #expected: readonly string[];
  readonly #anchors = new Map<number, PeriodAnchor>();
  /** DASH availability: when each period's media really reaches us (see availabilityClock.ts). */
  readonly #availability = new AvailabilityClock();
  #allSeen = false;
  readonly #startableTracks = new Set<string>();
  /** Sessions whose segments left the target grid: the live MPD gives them a SegmentTimeline (sticky). */
  readonly #offGrid: OffGridPeriods;
  /** Speaker turns, hosts joining and leaving, layouts. */
  readonly #timeline = new BroadcastTimeline();
  readonly #thumbs: ThumbnailTrack;
  /** The live captions rendition (undefined when turned off in the config). */
  readonly #captions: CaptionTrack | undefined;

  constructor(id: string, config: PackagerConfig, logger: Logger, publisher: Publisher | undefined, options: BroadcastOptions = {}) {
    super();
    if (!ID_PATTERN.test(id)) throw new TypeError(`invalid broadcast id ${JSON.stringify(id)}`);
    this.id = id;
    this.#config = config;
    this.#logger = logger;
    this.#publisher = publisher;
    this.#expected = options.expectedTracks ?? [];
    this.#captions = config.captions.enabled ? new CaptionTrack(config.captions.language, config.captions.name) : undefined;
    this.#offGrid = new OffGridPeriods(logger);
    this.#thumbs = new ThumbnailTrack(config);
    this.onListenerError((event, err) => logger.error({ err, event }, 'broadcast listener threw'));
  }

  /**
   * Whether every expected track can be started on (latched: a track failing
   * later does not hide the others).
   */
  #expectedReady(): boolean {
    if (!this.#allSeen) this.#allSeen = this.#expected.every((id) => this.#startable(this.#tracks.get(id)));
    return this.#allSeen;
  }

  /**
   * Whether a track has enough complete media to be started on: three segment
   * targets (HOLD-BACK), where RFC 8216bis §6.3.3 has a client start, or the
   * broadcast has ended. A live playlist with less gives a client no start
   * point: Shaka fails for good on one (it probes the middle segment, which is
   * then still open and has no URI). Once a segment has raised TARGETDURATION
   * (a long GOP), HOLD-BACK is three of those: waiting for that much also means
   * a steady long GOP is in TARGETDURATION before the playlist is first served.
   */
  #startable(track: ManifestTrack | undefined): boolean {
    if (!track) return false;
    if (this.#startableTracks.has(track.id)) return true;
    let ms = 0;
    for (const seg of track.segments) if (seg.complete) ms += (seg.duration / seg.timescale) * 1000;
    const td = track.targetDuration;
    const needMs = td > configuredTargetDuration(this.#config) ? 3000 * td : 3 * this.#config.segmentTargetMs;
    const ok = this.#ended ? ms > 0 : ms >= needMs - 1;
    if (ok) this.#startableTracks.add(track.id); // latched: the scan runs only until then
    return ok;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Increments on every part, segment or state change; playlists are cached per version. */
  get version(): number {
    return this.#version;
  }

  get tracks(): Track[] {
    return [...this.#tracks.values()];
  }

  track(trackId: string): Track | undefined {
    return this.#tracks.get(trackId);
  }

  /**
   * Opens a source session for a track: write its CMAF byte stream (init
   * segment, then fragments) into the returned Writable. A new session for the
   * same trackId (e.g. after an FFmpeg restart) is a discontinuity.
   */
  openTrack(trackId: string, run?: number): Writable {
    if (this.#ended) throw new InvalidStateError(`openTrack() after end() [broadcast:${this.id}]`);
    if (!ID_PATTERN.test(trackId)) throw new TypeError(`invalid track id ${JSON.stringify(trackId)}`);
    if (trackId === names.captions) throw new TypeError(`track id ${trackId} is reserved for the captions rendition`);
    let track = this.#tracks.get(trackId);
    if (!track) {
      const t = new Track(trackId, this.#config, this.#logger.child({ rendition: trackId }), (period, proposed) => {
        // The tracks of one broadcast come from one source (one FFmpeg per run), and switch
        // runs together: they share its clock, so audio and video PROGRAM-DATE-TIMEs line up.
        let a = this.#anchors.get(period);
        if (!a) this.#anchors.set(period, (a = proposed));
        return a;
      });
      track = t;
      this.#tracks.set(trackId, t);
      t.on('init', (init) => {
        this.#bump();
        this.emit('init', trackId, init);
        if (!this.#publisher) return;
        this.#storeCaptionInit(init.period);
        t.initUpload.set(init.period, 'pending');
        this.#publisher.enqueueMedia(`${this.id}/${trackId}/${names.init(init.period)}`, init.bytes, mediaMeta(names.init(init.period), init.info.kind), (outcome) => {
          t.initUpload.set(init.period, outcome);
          this.#publishManifests();
        });
      });
      t.on('part', (seg, part) => {
        this.#availability.observe(seg.period, (part.start + part.duration) / seg.timescale, Date.now());
        this.#bump();
        this.emit('part', trackId, seg, part);
      });
      t.on('segment', (seg) => {
        this.#bump();
        if (seg.bytes && this.#publisher) {
          seg.upload = 'pending';
          this.#publisher.enqueueMedia(`${this.id}/${trackId}/${names.segment(seg.msn)}`, seg.bytes, mediaMeta(names.segment(seg.msn), t.kind), (outcome) => {
            seg.upload = outcome;
            this.#publishManifests();
          });
        }
        if (t === this.captionReference) this.#storeCaptionSegment(t, seg);
        this.emit('segment', trackId, seg);
      });
      t.on('failed', (err) => {
        this.#bump();
        this.emit('trackFailed', trackId, err);
      });
      t.on('ready', (session) => this.#switchIn(t, session));
    }
    this.#logger.info({ rendition: trackId, run }, 'openTrack() [new source session]');
    return track.openSession(run);
  }

  /**
   * A source session with media switches in on every track of the broadcast at
   * once, when each has that session's media: the tracks then change sessions at
   * the same point, so they count the same discontinuities (a player pairs audio
   * with video by that count) and share the session's PROGRAM-DATE-TIME anchor.
   * Until then the previous session keeps feeding them. A track that waits more
   * than two segment durations for the others switches alone: a source that
   * lost a track must not hold the rest back for good. A session without a
   * run number (an HTTP push) switches in on its own.
   */
  #switchIn(track: Track, session: SourceSession): void {
    const run = session.run;
    if (run === undefined) return track.activate(session);
    const ids = new Set([...this.#expected, ...this.#tracks.keys()]);
    // A track already on this run (it switched alone) does not hold the others back.
    const group = [...ids].map((id) => {
      const t = this.#tracks.get(id);
      const s = t?.readySession(run);
      return t && s ? ([t, s] as const) : t?.activeRun === run ? null : undefined;
    });
    if (group.every((g) => g !== undefined)) {
      for (const g of group) if (g) g[0].activate(g[1]);
      return this.#announceSwitch(run, ids);
    }
    // A session that ended never switches alone: the others get no more of its media, and a track
    // that took a source they never take would count a discontinuity they do not (see above).
    if (!session.ended && session.readyForMs(Date.now()) > 2 * this.#config.segmentTargetMs) {
      this.#logger.warn(
        { rendition: track.id, run, heldMs: session.heldMs, waitingFor: [...ids].filter((_, i) => !group[i]) },
        'source session switched in alone: other tracks have no media from its run',
      );
      track.activate(session);
      this.#announceSwitch(run, ids);
    }
  }

  /** Says `sourceSwitched` once every track (expected or open) is on `run`. */
  #announceSwitch(run: number, ids: ReadonlySet<string>): void {
    if (this.#switchedRun !== undefined && this.#switchedRun >= run) return;
    if (![...ids].every((id) => this.#tracks.get(id)?.activeRun === run)) return;
    this.#switchedRun = run;
    this.#logger.debug({ run }, 'run switched in on every track');
    this.emit('sourceSwitched', run);
  }

  /** The timeline so far, in time order. */
  get timeline(): readonly TimelineEvent[] {
    return this.#timeline.events;
  }

  /**
   * Marks a moment of the broadcast (packager/timeline.ts): it appears in the
   * media playlists as an EXT-X-DATERANGE, in the MPD as an EventStream event,
   * and speaker turns in the VOD's chapters. TypeError on a malformed event or
   * a duplicate id; InvalidStateError once the broadcast has ended.
   */
  addTimelineEvent(event: TimelineEvent): TimelineEvent {
    if (this.#ended) throw new InvalidStateError(`addTimelineEvent() after end() [broadcast:${this.id}]`);
    const e = this.#timeline.add(event);
    this.#bump();
    this.#publishManifests();
    this.emit('timeline', e);
    return e;
  }

  /**
   * A thumbnail of the program (one per segment, from the transcoder):
   * `index` of its transcoder run, showing media time `mediaMs` of that
   * run. Kept in memory while recent, stored as `thumbs/<name>` (media
   * first, like segments), listed in `thumbnails.vtt`. InputError for bytes
   * that are not a JPEG or too large; a repeated name is ignored.
   */
  addThumbnail(ref: { run: number; index: number; mediaMs: number }, jpeg: Buffer): void {
    if (this.#ended) throw new InvalidStateError(`addThumbnail() after end() [broadcast:${this.id}]`);
    const name = this.#thumbs.add(ref, jpeg);
    if (name === undefined) return;
    this.#publisher?.enqueueMedia(`${this.id}/${names.thumbnails}/${name}`, jpeg, { contentType: 'image/jpeg', cacheControl: cacheControl.immutable });
  }

  /** A recent thumbnail's bytes (older ones are in the store). */
  thumbnail(name: string): Buffer | undefined {
    return this.#thumbs.bytes(name);
  }

  /** The WebVTT thumbnails track over the broadcast's segments (the recording's timeline); undefined without thumbnails. */
  thumbnailsText(): string | undefined {
    return this.#thumbs.vtt(this.tracks, this.#version);
  }

  /** The poster: the thumbnail of the third segment (past the start-up), else the newest; its name. */
  posterName(): string | undefined {
    return this.#thumbs.poster(this.tracks);
  }

  /** The media's span on the wall clock: the first segment's PROGRAM-DATE-TIME to the end of the last. */
  #mediaSpan(): { startMs: number; endMs: number } | undefined {
    let startMs = Infinity;
    let endMs = -Infinity;
    for (const t of this.#tracks.values()) {
      const done = t.segments.filter((s) => s.complete);
      const first = done[0];
      const last = done.at(-1);
      if (!first || !last) continue;
      startMs = Math.min(startMs, first.programDateTime);
      endMs = Math.max(endMs, last.programDateTime + (last.duration / last.timescale) * 1000);
    }
    return Number.isFinite(startMs) ? { startMs, endMs } : undefined;
  }

  /** The speaker turns as WebVTT chapters on the media's time (from its first segment); undefined before any media. */
  chaptersText(): string | undefined {
    const span = this.#mediaSpan();
    return span ? timelineChaptersVtt(this.#timeline.events, span.startMs, this.#ended ? span.endMs : Math.max(span.endMs, Date.now())) : undefined;
  }

  /**
   * The track the captions rendition follows, segment for segment: the first
   * video track (in opening order) with media, else the first audio track.
   */
  get captionReference(): Track | undefined {
    if (!this.#captions) return undefined;
    let audio: Track | undefined;
    for (const t of this.#tracks.values()) {
      if (t.kind === 'video' && t.current) return t;
      if (t.kind === 'audio' && t.current) audio ??= t;
    }
    return audio;
  }

  /**
   * A caption cue (packager/captions.ts): placed on the broadcast clock, at
   * the live edge at the earliest, and in the subtitle files of its range.
   * InputError: 404 when captions are off, 409 once ended, and the cue rules'
   * 4xx (bad, oversized, overlapping, too late or too early).
   */
  addCaption(input: CueInput, now = Date.now()): Cue {
    if (!this.#captions) throw new InputError('captions-off', 'captions are turned off for this broadcast', 404);
    if (this.#ended) throw new InputError('not-live', `broadcast ${this.id} has ended`, 409);
    const cue = this.#captions.add(input, now, this.captionReference);
    this.emit('caption', cue);
    return cue;
  }

  /** The captions' (DASH wvtt) init segment of a source session, stored with the first media init of it: early, before media can fill the queue. */
  #storeCaptionInit(period: number): void {
    const captions = this.#captions;
    if (!captions || !this.#publisher || captions.initUploads.has(period)) return;
    captions.initUploads.set(period, 'pending');
    const name = names.init(period);
    this.#publisher.enqueueMedia(`${this.id}/${names.captions}/${name}`, captions.wvttInit(), mediaMeta(name, 'text'), (outcome) => {
      captions.initUploads.set(period, outcome);
      this.#publishManifests();
    });
  }

  /** A caption segment completes with its reference segment: stored (HLS WebVTT and DASH wvtt), media first. */
  #storeCaptionSegment(ref: Track, seg: Segment): void {
    const captions = this.#captions;
    const pub = this.#publisher;
    if (!captions || !pub) return;
    const prefix = `${this.id}/${names.captions}`;
    const up: { vtt: CaptionUpload; wvtt: CaptionUpload } = { vtt: 'pending', wvtt: 'pending' };
    captions.uploads.set(seg.msn, up);
    const settled = (which: 'vtt' | 'wvtt') => (outcome: CaptionUpload) => {
      up[which] = outcome;
      this.#publishManifests();
    };
    pub.enqueueMedia(`${prefix}/${names.vttSegment(seg.msn)}`, Buffer.from(captions.vttSegment(ref, seg.msn)!), mediaMeta(names.vttSegment(seg.msn), 'text'), settled('vtt'));
    pub.enqueueMedia(`${prefix}/${names.segment(seg.msn)}`, captions.wvttSegment(ref, seg.msn)!, mediaMeta(names.segment(seg.msn), 'text'), settled('wvtt'));
  }

  /**
   * A file of the captions rendition that exists now (its reference part or
   * segment has landed), else undefined. `name` as parsed by
   * `parseCaptionObjectName`; the playlist is `mediaPlaylistBytes('captions')`.
   */
  captionFile(obj: { type: 'vtt-segment' | 'segment'; msn: number } | { type: 'vtt-part'; msn: number; index: number } | { type: 'init'; period: number }): Buffer | undefined {
    const captions = this.#captions;
    const ref = this.captionReference;
    if (!captions || !ref) return undefined;
    switch (obj.type) {
      case 'vtt-segment': {
        const text = captions.vttSegment(ref, obj.msn);
        return text === undefined ? undefined : Buffer.from(text);
      }
      case 'vtt-part': {
        const text = captions.vttPart(ref, obj.msn, obj.index);
        return text === undefined ? undefined : Buffer.from(text);
      }
      case 'segment':
        return captions.wvttSegment(ref, obj.msn);
      case 'init':
        return ref.periodStarts.has(obj.period) ? captions.wvttInit() : undefined;
    }
  }

  /** The whole broadcast's captions as one WebVTT file on the media time (as chapters.vtt); undefined without captions or media. */
  captionsText(): string | undefined {
    const span = this.#mediaSpan();
    return this.#captions && span ? this.#captions.wholeVtt(span.startMs) : undefined;
  }

  /** A WebVTT side file by name (`textFiles`): what the origin serves live and the store keeps; undefined before media, or without it. */
  textFile(name: string): string | undefined {
    switch (name) {
      case names.chapters:
        return this.chaptersText();
      case names.thumbnailsTrack:
        return this.thumbnailsText();
      case names.captionsTrack:
        return this.captionsText();
      default:
        return undefined;
    }
  }

  /** Ends the broadcast: ENDLIST playlists and a static MPD; the objects form a VOD. Safe twice. */
  end(): void {
    if (this.#ended) return;
    for (const t of this.#tracks.values()) t.stop();
    this.#ended = true;
    this.#endedAt = Date.now();
    this.#bump();
    this.#publishManifests();
    this.#logger.info('end()');
    this.emit('ended');
  }

  #bump(): void {
    this.#version++;
  }

  /**
   * (Re)queues this broadcast's manifests for the store. They are rendered when
   * their upload starts and name only media already stored (see mediaPlaylist
   * `forStore`), so a manifest never names an object that is not there; a
   * pending copy is replaced, so this is cheap to call on every media upload.
   */
  #publishManifests(): void {
    const pub = this.#publisher;
    if (!pub) return;
    for (const t of this.#tracks.values()) {
      if (!t.init) continue;
      pub.enqueueManifest(
        `${this.id}/${t.id}/${names.playlist}`,
        () => {
          const p = this.mediaPlaylist(t.id, { forStore: true });
          return p ? Buffer.from(serializeMediaPlaylist(p)) : undefined;
        },
        manifestMeta(names.playlist, this.#ended, false),
        () => {
          if (!t.playlistStored) {
            t.playlistStored = true;
            this.#publishManifests(); // the multivariant playlist may now name it
          }
        },
      );
    }
    const captions = this.#captions;
    const ref = this.captionReference;
    if (captions && ref?.init) {
      pub.enqueueManifest(
        `${this.id}/${names.captions}/${names.playlist}`,
        () => {
          const p = buildCaptionsPlaylist(this.#source(), ref, true);
          return p ? Buffer.from(serializeMediaPlaylist(p)) : undefined;
        },
        manifestMeta(names.playlist, this.#ended, false),
        () => {
          if (!captions.playlistStored) {
            captions.playlistStored = true;
            this.#publishManifests();
          }
        },
      );
    }
    pub.enqueueManifest(
      `${this.id}/${names.master}`,
      () => {
        const m = this.multivariantPlaylist({ storedOnly: true });
        return m ? Buffer.from(serializeMultivariantPlaylist(m)) : undefined;
      },
      manifestMeta(names.master, this.#ended, false),
    );
    pub.enqueueManifest(
      `${this.id}/${names.mpd}`,
      () => {
        const mpd = this.mpd(Date.now(), { forStore: true });
        return mpd ? Buffer.from(serializeMpd(mpd)) : undefined;
      },
      manifestMeta(names.mpd, this.#ended, false),
    );
    if (this.#ended) {
      // The recording's text tracks, rendered when their upload starts (as every manifest); one a broadcast lacks renders nothing.
      for (const name of textFiles) {
        pub.enqueueManifest(
          `${this.id}/${name}`,
          () => {
            const t = this.textFile(name);
            return t ? Buffer.from(t) : undefined;
          },
          manifestMeta(name, true, false),
        );
      }
      pub.enqueueManifest(
        `${this.id}/${names.poster}`,
        () => {
          const name = this.posterName();
          return name ? this.thumbnail(name) : undefined;
        },
        { contentType: 'image/jpeg', cacheControl: cacheControl.manifest(names.poster, true, false) },
      );
    }
  }

  /** The largest TARGETDURATION of the broadcast's live media playlists (each track keeps its own, see Track.targetDuration). */
  get targetDuration(): number {
    return Math.max(configuredTargetDuration(this.#config), ...this.tracks.map((t) => t.targetDuration));
  }

  /** Text of a media playlist, cached per broadcast version. */
  mediaPlaylistText(trackId: string, skip: 'NO' | 'YES' | 'v2' = 'NO'): string | undefined {
    return this.#mediaPlaylistEntry(trackId, skip)?.text;
  }

  /**
   * The same as bytes, one Buffer per version: every request for this version
   * (a crowd of blocked reloads released by one part) is answered from it.
   */
  mediaPlaylistBytes(trackId: string, skip: 'NO' | 'YES' | 'v2' = 'NO'): Buffer | undefined {
    const entry = this.#mediaPlaylistEntry(trackId, skip);
    if (!entry) return undefined;
    return (entry.bytes ??= Buffer.from(entry.text));
  }

  #mediaPlaylistEntry(trackId: string, skip: 'NO' | 'YES' | 'v2'): { text: string; bytes?: Buffer } | undefined {
    const key = `${trackId}|${skip}`;
    const hit = this.#cache.get(key);
    if (hit && hit.version === this.#version) return hit;
    const ref = trackId === names.captions ? this.captionReference : undefined;
    const full = ref ? buildCaptionsPlaylist(this.#source(), ref, false) : this.mediaPlaylist(trackId);
    if (!full) return undefined;
    const p = skip === 'NO' || !full.serverControl?.canSkipUntil ? full : deltaUpdate(full, full.serverControl.canSkipUntil, skip === 'v2');
    const entry = { version: this.#version, text: serializeMediaPlaylist(p) };
    this.#cache.set(key, entry);
    return entry;
  }

  /** The live MPD; `utcTimingUrl` is the origin's time URL as this client reaches it (see Mpd.utcTimingUrl). */
  mpdText(now: number, utcTimingUrl?: string): string | undefined {
    // One entry, tagged with the URL: clients choose the Host header, so a key per URL would grow without bound.
    const key = '|mpd';
    const tag = `|${utcTimingUrl ?? ''}`;
    const hit = this.#cache.get(key);
    if (hit && hit.version === this.#version && hit.tag === tag) return hit.text;
    const mpd = this.mpd(now);
    if (!mpd) return undefined;
    const text = serializeMpd(utcTimingUrl && mpd.type === 'dynamic' ? { ...mpd, utcTimingUrl } : mpd);
    this.#cache.set(key, { version: this.#version, text, tag });
    return text;
  }

  /**
   * The media playlist model of a track (hlsMediaPlaylist.ts). Live: the
   * sliding window (or the DVR window), parts on the newest segments, a preload
   * hint, rendition reports. Ended: every retained segment, ENDLIST.
   * `forStore`: the copy written to the object store, which names segments only.
   */
  mediaPlaylist(trackId: string, opts: { forStore?: boolean } = {}): MediaPlaylist | undefined {
    const track = this.#tracks.get(trackId);
    return track && buildMediaPlaylist(this.#source(), track, opts);
  }

  /** The multivariant playlist from the tracks really produced (hlsMultivariant.ts; undefined until one has media). */
  multivariantPlaylist(opts: { storedOnly?: boolean } = {}): MultivariantPlaylist | undefined {
    return buildMultivariantPlaylist(this.#source(), opts);
  }

  /**
   * The MPD over the same segment objects (dashMpd.ts): one Period per discontinuity
   * period, $Number$ = media sequence number.
   */
  mpd(now: number, opts: { forStore?: boolean } = {}): Mpd | undefined {
    return buildMpd(this.#source(), now, opts);
  }

  /** What the manifest builders read of this broadcast, as it is now. */
  #source(): ManifestSource {
    return {
      config: this.#config,
      tracks: this.tracks,
      ended: this.#ended,
      endedAt: this.#endedAt,
      timeline: this.#timeline.events,
      dateRanges: (fromMs) => this.#timeline.dateRanges(fromMs),
      captions: this.#captions,
      captionReference: this.captionReference,
      expectedReady: () => this.#expectedReady(),
      startable: (track) => this.#startable(track),
      availabilityZero: (period) => this.#availability.zeroMs(period),
      offGrid: this.#offGrid,
    };
  }
}
