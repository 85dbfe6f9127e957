import { Router, type Request, type Response, type NextFunction } from 'express';
import { pipeline } from 'node:stream/promises';
import { InputError, bearerMatches, errorMessage, type Logger } from '../common/index.ts';
import { ID_PATTERN, type Broadcast } from './broadcast.ts';
import type { Track } from './track.ts';
import type { Packager } from './packager.ts';
import type { ObjectStore } from './store.ts';
import type { Segment } from './types.ts';
import { cacheControl, manifestMeta, mediaMeta, names, parseCaptionObjectName, parseTrackObjectName, textFiles } from './naming.ts';
import { serializeMultivariantPlaylist } from './hls.ts';
import { parseThumbnailName } from './thumbnails.ts';
import { CORS_HEADERS, etagOf, holdSignal, writeText, writeWhole } from './originAnswers.ts';
import { awaitDirectives, checkReach, livePart, parseDirectives } from './liveEdge.ts';

/** Where a stable name (a stage's) points now: its live broadcast, else its latest recording. */
export type AliasTarget = { broadcastId: string; live: boolean };

export interface OriginConfig {
  logger: Logger;
  /** Longest wait of a blocking request; defaults to the packager's blockingTimeoutMs. */
  blockingTimeoutMs?: number;
  /**
   * Resolves a name that may be a stable alias (a stage id) for
   * `master.m3u8` and `manifest.mpd`: undefined serves the name as a broadcast
   * id. The app decides precedence (app/stageLinks.ts).
   */
  resolveAlias?: (name: string) => AliasTarget | undefined;
}

type RangeAnswer = { status: 200 } | { status: 206; start: number; end: number } | { status: 416 };

/**
 * How to answer a GET/HEAD of `size` bytes whose ETag is `etag` (RFC 9110 §14, §13.1.5):
 * - no Range, a malformed one, or a unit other than bytes: 200, the whole object;
 * - If-Range that is not our strong ETag: the Range is ignored (200). A weak tag
 *   never matches (strong comparison), nor does a date (we send no Last-Modified);
 * - one range, after range-parser combines overlapping and adjacent ones: 206;
 * - several ranges: 200 with the whole object, which §14.2 allows (a server may
 *   ignore Range); players ask for one range, so no multipart/byteranges;
 * - none satisfiable: 416.
 */
function rangeAnswer(req: Request, size: number, etag: string | undefined): RangeAnswer {
  const header = req.get('range');
  if (header === undefined || !/^bytes=/i.test(header)) return { status: 200 };
  const ifRange = req.get('if-range');
  if (ifRange !== undefined && ifRange.trim() !== etag) return { status: 200 };
  const ranges = req.range(size, { combine: true });
  if (ranges === -1) return { status: 416 };
  if (ranges === undefined || ranges === -2 || ranges.length !== 1) return { status: 200 };
  return { status: 206, start: ranges[0]!.start, end: ranges[0]!.end };
}

function send(req: Request, res: Response, body: Buffer | string, contentType: string, cache: string, tagged = typeof body !== 'string'): void {
  // The common case, a whole body held in memory: its prebuilt header block (originAnswers.ts).
  if (typeof body !== 'string' && req.headers.range === undefined) return writeWhole(req, res, body, contentType, cache, tagged);
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  // Playlists and MPDs (strings, built per request) carry no tag: hashing each blocking
  // reload's answer would cost the origin's hottest path for a validator nobody uses.
  const etag = tagged ? etagOf(buf) : undefined;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', cache);
  res.setHeader('Accept-Ranges', 'bytes');
  if (etag) res.setHeader('ETag', etag);
  const answer = rangeAnswer(req, buf.length, etag);
  if (answer.status === 416) {
    res.status(416).setHeader('Content-Range', `bytes */${buf.length}`).end();
    return;
  }
  const bytes = answer.status === 206 ? buf.subarray(answer.start, answer.end + 1) : buf;
  if (answer.status === 206) res.status(206).setHeader('Content-Range', `bytes ${answer.start}-${answer.end}/${buf.length}`);
  res.setHeader('Content-Length', bytes.length);
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

function notFound(res: Response, what = 'not found'): void {
  writeText(res, 404, cacheControl.notFound, what);
}


/**
 * The origin: `/live/<broadcastId>/master.m3u8`, `manifest.mpd`,
 * `<trackId>/index.m3u8`, `<trackId>/init-<n>.mp4`, `<trackId>/seg-<msn>.m4s`,
 * `<trackId>/part-<msn>.<i>.m4s`. The live edge comes from memory; anything
 * else from the object store; anything we never produce is 404.
 */
export function createOriginRouter(packager: Packager, store: ObjectStore | undefined, config: OriginConfig): Router {
  const router = Router();
  const logger = config.logger.child({ role: 'packager', component: 'origin' });
  const timeout = config.blockingTimeoutMs ?? packager.config.blockingTimeoutMs;

  router.use('/live', (req, res, next) => {
    res.set(CORS_HEADERS);
    if (req.method === 'OPTIONS') return void res.status(204).end();
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.status(405).setHeader('Allow', 'GET, HEAD, OPTIONS').end();
    next();
  });

  const fromStore = async (req: Request, res: Response, key: string): Promise<void> => {
    const obj = store ? await store.get(key) : undefined;
    if (!obj) return notFound(res);
    send(req, res, obj.body, obj.contentType, obj.cacheControl);
  };

  const live = (id: string): Broadcast | undefined => (ID_PATTERN.test(id) ? packager.getBroadcast(id) : undefined);

  // The clock the live MPD's UTCTiming points at (http-xsdate): never cached.
  router.get('/live/time', (req, res) => {
    send(req, res, new Date().toISOString(), 'text/plain; charset=utf-8', cacheControl.error);
  });

  router.get('/live/:b/:name', async (req, res) => {
    const { b: id, name } = req.params as { b: string; name: string };
    if (!ID_PATTERN.test(id) || ![names.master, names.mpd, names.poster, ...textFiles].includes(name)) return notFound(res);
    const alias = config.resolveAlias?.(id);
    if (alias && alias.broadcastId !== id) {
      // A relative Location keeps whatever prefix the client used (a CDN path, a signed
      // /live/t/<token>/ base: a stage's token covers its broadcasts). The redirect changes
      // when the stage goes live again, so caches keep it a second while live; a
      // recording's stays longer.
      const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
      res.set('Cache-Control', alias.live ? 'public, max-age=1' : 'public, max-age=10');
      return void res.redirect(302, `../${encodeURIComponent(alias.broadcastId)}/${name}${query}`);
    }
    const b = live(id);
    if (!b) return fromStore(req, res, `${id}/${name}`);
    if (textFiles.includes(name)) {
      const vtt = b.textFile(name);
      if (vtt === undefined) return notFound(res, 'no media yet');
      const meta = manifestMeta(name, b.ended, false);
      return send(req, res, vtt, meta.contentType, meta.cacheControl);
    }
    if (name === names.poster) {
      const poster = b.posterName();
      const bytes = poster ? b.thumbnail(poster) : undefined;
      if (!poster) return notFound(res, 'no thumbnail yet');
      if (!bytes) return fromStore(req, res, `${id}/${names.thumbnails}/${poster}`);
      const meta = manifestMeta(name, b.ended, false);
      return send(req, res, bytes, meta.contentType, meta.cacheControl);
    }
    if (name === names.master) {
      const m = b.multivariantPlaylist();
      if (!m) return notFound(res, 'no media yet');
      const meta = manifestMeta(name, b.ended, false);
      return send(req, res, serializeMultivariantPlaylist(m), meta.contentType, meta.cacheControl);
    }
    // Absolute: dash.js resolves a UTCTiming URL against the page, not the MPD.
    // Behind a proxy (trust proxy) req.protocol and the host are what the client used.
    const host = /^[A-Za-z0-9.:[\]-]{1,255}$/.test(req.host) ? req.host : 'localhost';
    const text = b.mpdText(Date.now(), `${req.protocol}://${host}/live/time`);
    if (!text) return notFound(res, 'no media yet');
    const meta = manifestMeta(name, b.ended, false);
    send(req, res, text, meta.contentType, meta.cacheControl);
  });

  router.get('/live/:b/:track/:name', async (req, res) => {
    const { b: id, track: trackId, name } = req.params as { b: string; track: string; name: string };
    if (trackId === names.thumbnails) {
      if (!ID_PATTERN.test(id) || !parseThumbnailName(name)) return notFound(res);
      const bytes = live(id)?.thumbnail(name);
      return bytes ? send(req, res, bytes, 'image/jpeg', cacheControl.immutable) : fromStore(req, res, `${id}/${names.thumbnails}/${name}`);
    }
    if (trackId === names.captions) return captionObject(req, res, id, name);
    const obj = parseTrackObjectName(name);
    if (!ID_PATTERN.test(id) || !ID_PATTERN.test(trackId) || !obj) return notFound(res);
    const key = `${id}/${trackId}/${name}`;
    const b = live(id);
    const track = b?.track(trackId);
    if (obj.type === 'playlist') return mediaPlaylist(req, res, b, track, key);
    if (!b || !track) return fromStore(req, res, key);
    const kind = track.kind;
    const meta = mediaMeta(name, kind);
    switch (obj.type) {
      case 'init': {
        const init = track.inits.get(obj.period);
        return init ? send(req, res, init.bytes, meta.contentType, meta.cacheControl) : fromStore(req, res, key);
      }
      case 'part': {
        // A preload-hinted (or about to land) part is held until it is complete.
        const part = await livePart(b, track, obj.msn, obj.index, timeout, () => holdSignal(req, res));
        if (!part) return notFound(res);
        return send(req, res, part.bytes, meta.contentType, meta.cacheControl);
      }
      case 'segment': {
        let seg = track.segment(obj.msn);
        if (seg?.complete && seg.bytes) return send(req, res, seg.bytes, meta.contentType, meta.cacheControl);
        const cur = track.current;
        // LL-DASH: a segment is requested availabilityTimeOffset before it ends, so
        // one not begun yet is held until its first chunk; two ahead allows for a
        // client clock a little fast (or a segment cut short). Bounded by the timeout.
        if (!seg && cur && !b.ended && obj.msn > cur.msn && obj.msn <= cur.msn + 2) {
          const hold = holdSignal(req, res);
          await track.waitForPart(obj.msn, 0, timeout, hold.signal);
          hold.release();
          seg = track.segment(obj.msn);
        }
        if (seg && !seg.complete && seg.parts.length > 0) return streamSegment(req, res, track, seg, meta.contentType);
        if (seg?.complete && seg.bytes) return send(req, res, seg.bytes, meta.contentType, meta.cacheControl);
        return fromStore(req, res, key);
      }
    }
  });

  /**
   * The captions rendition (`captions/…`): its playlist follows the reference
   * track's (blocking reloads wait on that track), a part or segment is
   * answered once the reference part or segment has landed (a request a
   * little ahead is held, as for media), anything else from the store.
   */
  async function captionObject(req: Request, res: Response, id: string, name: string): Promise<void> {
    const obj = parseCaptionObjectName(name);
    if (!ID_PATTERN.test(id) || !obj) return notFound(res);
    const key = `${id}/${names.captions}/${name}`;
    const b = live(id);
    const ref = b?.captionReference;
    if (obj.type === 'playlist') return mediaPlaylist(req, res, b, ref, key, names.captions);
    if (!b || !ref) return fromStore(req, res, key);
    const meta = mediaMeta(name, 'text');
    if (obj.type === 'vtt-part') {
      const part = await livePart(b, ref, obj.msn, obj.index, timeout, () => holdSignal(req, res));
      const bytes = part ? b.captionFile(obj) : undefined;
      return bytes ? send(req, res, bytes, meta.contentType, meta.cacheControl) : notFound(res);
    }
    let bytes = b.captionFile(obj);
    const cur = ref.current;
    if (!bytes && obj.type !== 'init' && cur && !b.ended && obj.msn >= cur.msn && obj.msn <= cur.msn + 2) {
      // The segment in progress (or about to start): held until it completes, bounded by the timeout.
      const hold = holdSignal(req, res);
      await ref.waitForPart(obj.msn, undefined, timeout, hold.signal);
      hold.release();
      bytes = b.captionFile(obj);
    }
    return bytes ? send(req, res, bytes, meta.contentType, meta.cacheControl) : fromStore(req, res, key);
  }

  /**
   * Media playlist with blocking reload (§6.2.5.2) and delta updates (§6.2.5.1);
   * the directives' rules and waits are liveEdge.ts's. The wait is bounded
   * (blockingTimeoutMs, about 3 target durations): 503 then.
   */
  async function mediaPlaylist(req: Request, res: Response, b: Broadcast | undefined, track: Track | undefined, key: string, playlistId = track?.id): Promise<void> {
    const d = parseDirectives((name) => req.query[name]);
    if (!b || !track) return fromStore(req, res, key);
    checkReach(b, track, d);
    if (d.msn !== undefined) {
      const hold = holdSignal(req, res);
      const ok = await awaitDirectives(b, track, d, timeout, hold.signal);
      hold.release();
      if (res.writableEnded || res.destroyed) return;
      if (!ok) {
        writeText(res, 503, cacheControl.error, 'requested part did not arrive in time', { 'Retry-After': '1' });
        return;
      }
    }
    const bytes = b.mediaPlaylistBytes(playlistId ?? track.id, d.skip);
    if (!bytes) return notFound(res, 'no media yet');
    const meta = manifestMeta(names.playlist, b.ended, d.msn !== undefined);
    send(req, res, bytes, meta.contentType, meta.cacheControl, false);
  }

  router.use('/live', (_req, res) => notFound(res));

  router.use('/live', (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof InputError) {
      writeText(res, err.status, cacheControl.error, err.message);
      return;
    }
    logger.error({ err: errorMessage(err) }, 'origin request failed');
    if (!res.headersSent) writeText(res, 502, cacheControl.error, 'origin error');
    else res.destroy();
  });
  return router;
}

/** Streams a segment still being written: parts already there, then each one as it lands (chunked transfer). */
function streamSegment(req: Request, res: Response, track: Track, seg: Segment, contentType: string): void {
  res.status(200);
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', cacheControl.immutable);
  if (req.method === 'HEAD') return void res.end();
  let sent = 0;
  const flush = () => {
    while (sent < seg.parts.length) res.write(seg.parts[sent++]!.bytes);
  };
  const onPart = (s: Segment) => {
    if (s === seg) flush();
  };
  const finish = () => {
    cleanup();
    flush();
    res.end();
  };
  const onSegment = (s: Segment) => {
    if (s === seg) finish();
  };
  const onFailed = () => {
    cleanup();
    res.destroy();
  };
  const cleanup = () => {
    track.off('part', onPart);
    track.off('segment', onSegment);
    track.off('failed', onFailed);
  };
  track.on('part', onPart);
  track.on('segment', onSegment);
  track.on('failed', onFailed);
  res.once('close', cleanup);
  flush();
  if (seg.complete) finish();
}

const INGEST_TYPES = new Set(['video/mp4', 'audio/mp4', 'video/iso.segment', 'audio/iso.segment', 'application/octet-stream', 'application/mp4']);

/**
 * CMAF ingest (DASH-IF live media ingest pattern): a long-running chunked
 * `PUT`/`POST /ingest/<broadcastId>/<trackId>` per track; each request is one
 * source session. Broadcasts are created by the control plane
 * (`packager.createBroadcast`) unless `autoCreateBroadcasts` is on. With
 * `ingestToken` configured (packager config or here), every request needs
 * `Authorization: Bearer <token>`: 401 otherwise.
 */
export function createIngestRouter(packager: Packager, config: { logger: Logger; token?: string }): Router {
  const router = Router();
  const logger = config.logger.child({ role: 'packager', component: 'ingest' });
  const token = config.token ?? packager.config.ingestToken;
  const handler = async (req: Request, res: Response) => {
    const { b: id, track: trackId } = req.params as { b: string; track: string };
    const fail = (status: number, msg: string) => {
      logger.warn({ broadcast: id, rendition: trackId, status }, `ingest rejected: ${msg}`);
      res.status(status).setHeader('Connection', 'close').type('text/plain').send(msg);
      req.resume();
    };
    if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="ingest"');
      return fail(401, 'missing or wrong ingest token');
    }
    if (!ID_PATTERN.test(id) || !ID_PATTERN.test(trackId)) return fail(400, 'invalid broadcast or track id');
    const type = (req.headers['content-type'] ?? 'application/octet-stream').split(';')[0]!.trim().toLowerCase();
    if (!INGEST_TYPES.has(type)) return fail(415, `unsupported content type ${type}: send CMAF (video/mp4)`);
    let b = packager.getBroadcast(id);
    if (!b) {
      if (!packager.config.autoCreateBroadcasts || packager.closed) return fail(404, `unknown broadcast ${id}`);
      b = packager.createBroadcast(id);
    }
    if (b.ended) return fail(409, `broadcast ${id} has ended`);
    const sink = b.openTrack(trackId);
    try {
      await pipeline(req, sink);
      res.status(204).end();
    } catch (err) {
      const code = err instanceof InputError ? err.code : 'ingest-error';
      if (!res.headersSent) {
        res.status(err instanceof InputError ? 400 : 409).setHeader('Connection', 'close').type('text/plain').send(`${code}: ${errorMessage(err)}`);
      }
      req.destroy();
    }
  };
  router.put('/ingest/:b/:track', handler);
  router.post('/ingest/:b/:track', handler);
  return router;
}
