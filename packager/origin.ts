import { Router, type Request, type Response, type NextFunction } from 'express';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { InputError, bearerMatches, errorMessage, type Logger } from '../common/index.ts';
import { ID_PATTERN, manifestMeta, mediaMeta, type Broadcast, type Track } from './broadcast.ts';
import type { Packager } from './packager.ts';
import type { ObjectStore } from './store.ts';
import type { Segment } from './types.ts';
import { cacheControl, names, parseTrackObjectName } from './naming.ts';
import { serializeMultivariantPlaylist } from './hls.ts';

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

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': 'Range, If-Range, If-None-Match, If-Modified-Since',
  'Access-Control-Expose-Headers': 'Age, Content-Length, Content-Range, Date, ETag',
  'Access-Control-Max-Age': '86400',
};

/** Integer query value, undefined when absent; throws a 400 InputError when malformed. */
function intParam(req: Request, name: string): number | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d{1,12}$/.test(v)) throw new InputError('bad-directive', `${name} must be a non-negative integer`);
  return Number(v);
}

/** Strong ETags of bodies held in memory (live parts, segments, inits), so each is hashed once. */
const etags = new WeakMap<Buffer, string>();

/**
 * A strong entity tag: a digest of the bytes, so an object has the same tag
 * from memory, from the store and from any node (the origin's only validator:
 * it sends no Last-Modified).
 */
function etagOf(buf: Buffer): string {
  let tag = etags.get(buf);
  if (tag === undefined) {
    tag = `"${createHash('sha256').update(buf).digest('base64url')}"`;
    etags.set(buf, tag);
  }
  return tag;
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

function send(req: Request, res: Response, body: Buffer | string, contentType: string, cache: string): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  // Playlists and MPDs (strings, built per request) carry no tag: hashing each blocking
  // reload's answer would cost the origin's hottest path for a validator nobody uses.
  const etag = typeof body === 'string' ? undefined : etagOf(buf);
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
  res.status(404).setHeader('Cache-Control', cacheControl.notFound).type('text/plain').send(what);
}

/** Aborts when the client goes away, so waiters do not pile up. */
function clientGone(req: Request, res: Response): AbortSignal {
  const ac = new AbortController();
  res.once('close', () => ac.abort());
  req.once('aborted', () => ac.abort());
  return ac.signal;
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
    if (!ID_PATTERN.test(id) || (name !== names.master && name !== names.mpd)) return notFound(res);
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
        const init = track.inits.get(obj.session);
        return init ? send(req, res, init.bytes, meta.contentType, meta.cacheControl) : fromStore(req, res, key);
      }
      case 'part': {
        const findPart = () => track.segment(obj.msn)?.parts[obj.index];
        let part = findPart();
        const cur = track.current;
        // A preload-hinted (or about to land) part is held until it is complete.
        if (!part && cur && !b.ended && obj.msn >= cur.msn && obj.msn <= cur.msn + 1 && obj.index <= 64) {
          await track.waitForPart(obj.msn, obj.index, timeout, clientGone(req, res));
          part = findPart();
        }
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
          await track.waitForPart(obj.msn, 0, timeout, clientGone(req, res));
          seg = track.segment(obj.msn);
        }
        if (seg && !seg.complete && seg.parts.length > 0) return streamSegment(req, res, track, seg, meta.contentType);
        if (seg?.complete && seg.bytes) return send(req, res, seg.bytes, meta.contentType, meta.cacheControl);
        return fromStore(req, res, key);
      }
    }
  });

  /**
   * Media playlist with blocking reload (§6.2.5.2) and delta updates (§6.2.5.1).
   * 400 rules (as gohlslib and OvenMediaEngine answer):
   *  - `_HLS_part` without `_HLS_msn` → 400;
   *  - `_HLS_msn`/`_HLS_part` not a non-negative integer → 400;
   *  - `_HLS_msn` more than one beyond the last segment in the playlist → 400;
   *  - `_HLS_skip` other than YES or v2 → 400.
   * The wait is bounded (blockingTimeoutMs, about 3 target durations): 503 then.
   */
  async function mediaPlaylist(req: Request, res: Response, b: Broadcast | undefined, track: Track | undefined, key: string): Promise<void> {
    const msn = intParam(req, '_HLS_msn');
    const part = intParam(req, '_HLS_part');
    const skipRaw = req.query._HLS_skip;
    if (part !== undefined && msn === undefined) throw new InputError('bad-directive', '_HLS_part requires _HLS_msn');
    if (skipRaw !== undefined && skipRaw !== 'YES' && skipRaw !== 'v2') throw new InputError('bad-directive', '_HLS_skip must be YES or v2');
    const skip = (skipRaw ?? 'NO') as 'NO' | 'YES' | 'v2';
    if (!b || !track) return fromStore(req, res, key);
    if (msn !== undefined && !b.ended) {
      const cur = track.current;
      const last = cur ? cur.msn : -1; // the segment whose parts are last in the playlist
      if (msn > last + 1) throw new InputError('bad-directive', `_HLS_msn=${msn} is beyond the next segment (${last + 1})`);
      const ok = await track.waitForPart(msn, part, timeout, clientGone(req, res));
      if (res.writableEnded || res.destroyed) return;
      if (!ok && !b.ended) {
        res.status(503).setHeader('Cache-Control', cacheControl.error).setHeader('Retry-After', '1').type('text/plain').send('requested part did not arrive in time');
        return;
      }
    }
    const text = b.mediaPlaylistText(track.id, skip);
    if (!text) return notFound(res, 'no media yet');
    const meta = manifestMeta(names.playlist, b.ended, msn !== undefined);
    send(req, res, text, meta.contentType, meta.cacheControl);
  }

  router.use('/live', (_req, res) => notFound(res));

  router.use('/live', (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof InputError) {
      res.status(err.status).setHeader('Cache-Control', cacheControl.error).type('text/plain').send(err.message);
      return;
    }
    logger.error({ err: errorMessage(err) }, 'origin request failed');
    if (!res.headersSent) res.status(502).setHeader('Cache-Control', cacheControl.error).type('text/plain').send('origin error');
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
