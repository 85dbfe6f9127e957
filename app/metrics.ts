import { Router, type NextFunction, type Request, type Response } from 'express';
import type { ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { bearerMatches } from '../common/index.ts';
import type { Sfu } from '../ingest/index.ts';
import type { Broadcast, Packager } from '../packager/index.ts';
import type { Broadcasts } from './broadcasts.ts';
import type { ViewerEstimator } from './viewers.ts';

/**
 * What one process has to report. Role `all` has every part; role `sfu` only
 * the SFU; role `broadcast` the broadcasts, packager and viewers. Each family of
 * series is registered only where its source runs, so a scrape never shows a
 * zero for something the process does not do.
 */
export interface MetricsSources {
  sfu?: Sfu;
  packager?: Packager;
  broadcasts?: Broadcasts;
  viewers?: ViewerEstimator;
}

/** What an origin request asked for; a bounded label (never the URL itself). */
export type OriginRouteKind = 'master' | 'mpd' | 'playlist' | 'playlist_blocking' | 'init' | 'segment' | 'part' | 'other';

/** Classifies an origin path (`/live/<b>/…`, token prefix already removed) into a route kind. */
export function originRouteKind(path: string, query: Record<string, unknown>): OriginRouteKind {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (name === 'master.m3u8') return 'master';
  if (name === 'manifest.mpd') return 'mpd';
  if (name === 'index.m3u8') return query._HLS_msn !== undefined ? 'playlist_blocking' : 'playlist';
  if (/^init-\d+\.mp4$/.test(name)) return 'init';
  if (/^seg-\d+\.m4s$/.test(name)) return 'segment';
  if (/^part-\d+\.\d+\.m4s$/.test(name)) return 'part';
  return 'other';
}

/**
 * Prometheus metrics of one app instance, in its own Registry (two apps in one
 * process, as in tests, never share counters). Gauges are read at scrape time
 * from the stages' own status APIs; counters are fed by their typed events; so
 * no module below `app/` knows about Prometheus.
 *
 * Labels stay bounded: `stage`/`broadcast` ids are bounded by the stages the
 * SFU carries (and are removed when a broadcast leaves memory), `track` by the
 * ladder, `kind`/`route`/`status` by small fixed sets. Never a client address or a URL.
 */
export class AppMetrics {
  readonly registry = new Registry();
  /** Broadcast ids (and their track ids) that have label values in the event-fed series. */
  readonly #labelled = new Map<string, Set<string>>();
  /** Origin series, where this process serves an origin. */
  #origin: { requests: Counter<'route' | 'status'>; duration: Histogram<'route'> } | undefined;

  constructor(src: MetricsSources) {
    // Standard names (process_*, nodejs_*) so stock dashboards work.
    collectDefaultMetrics({ register: this.registry });
    if (src.sfu) this.#sfuSeries(src.sfu);
    if (src.broadcasts) this.#broadcastSeries(src.broadcasts);
    if (src.packager) this.#packagerSeries(src.packager, src.viewers);
  }

  /** Stages, hosts, producers and workers: what the SFU carries. */
  #sfuSeries(sfu: Sfu): void {
    const registers = [this.registry];
    new Gauge({
      name: 'stagecast_mediasoup_workers',
      help: 'mediasoup workers alive',
      registers,
      collect() {
        this.set(sfu.workers.size);
      },
    });
    new Gauge({
      name: 'stagecast_stages',
      help: 'Stages open on the SFU',
      registers,
      collect() {
        this.set(sfu.stages.length);
      },
    });
    new Gauge({
      name: 'stagecast_hosts',
      help: 'Hosts joined, per stage',
      labelNames: ['stage'] as const,
      registers,
      collect() {
        this.reset();
        for (const s of sfu.stages) this.set({ stage: s.id }, s.hostCount);
      },
    });
    new Gauge({
      name: 'stagecast_producers',
      help: 'Producers (published tracks), per stage and kind',
      labelNames: ['stage', 'kind'] as const,
      registers,
      collect() {
        this.reset();
        for (const s of sfu.stages) {
          const producers = s.producers;
          for (const kind of ['audio', 'video'] as const) this.set({ stage: s.id, kind }, producers.filter((p) => p.kind === kind).length);
        }
      },
    });
  }

  /** RTP in and FFmpeg, read from the running broadcasts' status at scrape time. */
  #broadcastSeries(broadcasts: Broadcasts): void {
    const registers = [this.registry];
    // One status read per broadcast per scrape, shared by the gauges below.
    type Status = NonNullable<Awaited<ReturnType<Broadcasts['status']>>>;
    let statuses: Promise<Status[]> | undefined;
    const readStatuses = (): Promise<Status[]> => {
      statuses ??= Promise.all(broadcasts.ids.map((id) => broadcasts.status(id))).then((all) => {
        queueMicrotask(() => (statuses = undefined));
        return all.filter((s): s is Status => s !== undefined && (s.state === 'live' || s.state === 'starting' || s.state === 'stopping'));
      });
      return statuses;
    };
    new Gauge({
      name: 'stagecast_rtp_in_bitrate_bps',
      help: 'RTP bitrate from the SFU into the transcoder, bit/s (mediasoup consumer stats), per stage and kind',
      labelNames: ['stage', 'kind'] as const,
      registers,
      async collect() {
        const all = await readStatuses();
        this.reset();
        for (const st of all) {
          for (const kind of ['audio', 'video']) {
            const tracks = st.input.filter((i) => i.kind === kind);
            if (tracks.length) this.set({ stage: st.stageId, kind }, tracks.reduce((sum, i) => sum + i.bitrate, 0));
          }
        }
      },
    });
    const transcoderGauge = (name: string, help: string, pick: (t: NonNullable<Status['transcoder']>) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['broadcast'] as const,
        registers,
        async collect() {
          const all = await readStatuses();
          this.reset();
          for (const st of all) {
            const v = st.transcoder ? pick(st.transcoder) : undefined;
            if (v !== undefined) this.set({ broadcast: st.id }, v);
          }
        },
      });
    transcoderGauge('stagecast_ffmpeg_speed', 'FFmpeg speed (media seconds per wall second) from its progress lines', (t) => t.speed);
    transcoderGauge('stagecast_ffmpeg_fps', 'FFmpeg output frames per second from its progress lines', (t) => t.fps);
    // A gauge, not a counter: it is the broadcast's own count, read from its status, and leaves with it.
    transcoderGauge('stagecast_ffmpeg_restarts', 'FFmpeg restarts of the running broadcast so far', (t) => t.restarts);
  }

  /** Parts, segments, uploads, origin requests, waiters and viewers: what the packager and its origin do. */
  #packagerSeries(packager: Packager, viewers: ViewerEstimator | undefined): void {
    const registers = [this.registry];
    const parts = new Counter({ name: 'stagecast_parts_total', help: 'LL-HLS parts (CMAF fragments) produced, per broadcast and track', labelNames: ['broadcast', 'track'] as const, registers });
    const segments = new Counter({ name: 'stagecast_segments_total', help: 'Segments completed, per broadcast and track', labelNames: ['broadcast', 'track'] as const, registers });
    const partLag = new Histogram({
      name: 'stagecast_part_availability_lag_seconds',
      help:
        'When a part became available at the origin, minus the wall-clock time of its end on the period clock ' +
        '(EXT-X-PROGRAM-DATE-TIME + duration). The period clock is anchored on the arrival of its first fragment, so this ' +
        'is the delay added since then (encoder falling behind, bursts), not capture-to-glass latency, which the server cannot see.',
      labelNames: ['broadcast'] as const,
      buckets: [-0.2, -0.1, 0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
      registers,
    });
    const onBroadcast = (b: Broadcast) => {
      const tracks = new Set<string>();
      this.#labelled.set(b.id, tracks);
      b.on('part', (trackId, seg, part) => {
        tracks.add(trackId);
        parts.inc({ broadcast: b.id, track: trackId });
        const endMs = seg.programDateTime + ((part.start + part.duration - seg.start) * 1000) / seg.timescale;
        partLag.observe({ broadcast: b.id }, (Date.now() - endMs) / 1000);
      });
      b.on('segment', (trackId) => segments.inc({ broadcast: b.id, track: trackId }));
    };
    for (const b of packager.broadcasts) onBroadcast(b);
    packager.on('newBroadcast', onBroadcast);

    const publisher = packager.publisher;
    new Gauge({
      name: 'stagecast_upload_queue_depth',
      help: 'Media uploads to the object store waiting or in flight',
      registers,
      collect() {
        this.set(publisher?.queued ?? 0);
      },
    });
    new Gauge({
      name: 'stagecast_upload_queue_bytes',
      help: 'Bytes of media uploads waiting or in flight',
      registers,
      collect() {
        this.set(publisher?.queuedBytes ?? 0);
      },
    });
    const uploadsFailed = new Counter({ name: 'stagecast_upload_failures_total', help: 'Uploads that failed for good after their retries, by object kind', labelNames: ['kind'] as const, registers });
    const uploadRetries = new Counter({ name: 'stagecast_upload_retries_total', help: 'Upload attempts that failed and were retried, by object kind', labelNames: ['kind'] as const, registers });
    const uploadsDropped = new Counter({ name: 'stagecast_upload_dropped_total', help: 'Media uploads dropped because the queue was full', registers });
    const uploaded = new Counter({ name: 'stagecast_uploads_total', help: 'Objects stored, by kind', labelNames: ['kind'] as const, registers });
    const objectKind = (key: string) => (/\.(m3u8|mpd)$/.test(key) ? 'manifest' : 'media');
    for (const kind of ['media', 'manifest']) {
      uploadsFailed.inc({ kind }, 0);
      uploadRetries.inc({ kind }, 0);
      uploaded.inc({ kind }, 0);
    }
    publisher?.on('uploadFailed', (key) => uploadsFailed.inc({ kind: objectKind(key) }));
    publisher?.on('retry', (key) => uploadRetries.inc({ kind: objectKind(key) }));
    publisher?.on('queueFull', () => uploadsDropped.inc());
    publisher?.on('uploaded', (_key, kind) => uploaded.inc({ kind }));

    const requests = new Counter({ name: 'stagecast_origin_requests_total', help: 'Origin requests answered, by route kind and status', labelNames: ['route', 'status'] as const, registers });
    const duration = new Histogram({
      name: 'stagecast_origin_response_seconds',
      help: 'Origin response time (to the last byte), by route kind; blocking reloads apart since they wait on purpose',
      labelNames: ['route'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8],
      registers,
    });
    this.#origin = { requests, duration };

    const labelled = this.#labelled;
    const prune = () => {
      // Event-fed series of broadcasts that have left memory go too, so labels stay bounded.
      for (const [id, tracks] of [...labelled]) {
        if (packager.getBroadcast(id)) continue;
        labelled.delete(id);
        for (const track of tracks) {
          parts.remove({ broadcast: id, track });
          segments.remove({ broadcast: id, track });
        }
        partLag.remove({ broadcast: id });
      }
    };
    new Gauge({
      name: 'stagecast_blocking_waiters',
      help: 'Blocking playlist reloads and preload-hinted part requests waiting, per broadcast',
      labelNames: ['broadcast'] as const,
      registers,
      async collect() {
        prune();
        this.reset();
        for (const b of packager.broadcasts) this.set({ broadcast: b.id }, b.tracks.reduce((n, t) => n + t.waiting, 0));
      },
    });
    if (viewers) {
      new Gauge({
        name: 'stagecast_viewers_estimated',
        help: 'Distinct clients (address + user agent) polling manifests in the last 10 s, per broadcast; behind a CDN this counts CDN nodes',
        labelNames: ['broadcast'] as const,
        registers,
        collect() {
          this.reset();
          for (const b of packager.broadcasts) this.set({ broadcast: b.id }, viewers.count(b.id));
        },
      });
    }
    new Gauge({
      name: 'stagecast_broadcasts',
      help: 'Broadcasts in the packager, by whether they have ended',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const all = packager.broadcasts;
        this.set({ state: 'live' }, all.filter((b) => !b.ended).length);
        this.set({ state: 'ended' }, all.filter((b) => b.ended).length);
      },
    });
  }

  /** Express middleware for the origin: counts each `/live` request by route kind and status when it ends. */
  readonly originMiddleware = (req: Request, res: Response, next: NextFunction): void => {
    if (this.#origin && req.path.startsWith('/live/')) this.observeOrigin(originRouteKind(req.path, req.query as Record<string, unknown>), res);
    next();
  };

  /** Counts one origin request of this route kind by status, and its response time, when it ends. */
  observeOrigin(route: OriginRouteKind, res: ServerResponse): void {
    const origin = this.#origin;
    if (!origin) return;
    const end = origin.duration.startTimer({ route });
    let done = false;
    const record = () => {
      if (done) return;
      done = true;
      // A client that went away before the answer is counted as 499 (nginx's convention).
      const status = res.writableFinished ? String(res.statusCode) : '499';
      origin.requests.inc({ route, status });
      end();
    };
    res.once('finish', record);
    res.once('close', record);
  }

  /** The Prometheus text exposition. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * `GET /metrics` for `metrics`: the Prometheus text, never cached; with a token
 * configured, only for `Authorization: Bearer <token>` (401 otherwise).
 */
export function metricsRouter(metrics: AppMetrics, token: string | undefined): Router {
  const router = Router();
  router.get('/metrics', async (req, res) => {
    if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
      res.status(401).setHeader('WWW-Authenticate', 'Bearer realm="metrics"').type('text/plain').send('metrics token required');
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.type(metrics.registry.contentType).send(await metrics.text());
  });
  return router;
}
