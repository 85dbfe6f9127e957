/**
 * The origin's hot path: the requests a live audience makes many times a
 * second (media playlists with or without delivery directives, parts, complete
 * segments, init segments of a broadcast in memory) answered straight from the
 * node HTTP server, before Express: no router, no middleware chain, the URL
 * split once, bodies and header blocks prebuilt (originAnswers.ts), the holds
 * decided where the Express routes decide them (liveEdge.ts). Anything else,
 * or anything unusual about one of these (a Range header, another query
 * parameter, a malformed directive, a refused viewer token, a broadcast or
 * object not in memory, a segment still being written), is declined and goes the Express way
 * (origin.ts), which answers it in full.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InputError, errorMessage, type Logger } from '../common/index.ts';
import { ID_PATTERN } from './broadcast.ts';
import type { Packager } from './packager.ts';
import { cacheControl, manifestMeta, mediaMeta, names, parseTrackObjectName } from './naming.ts';
import { holdSignal, writeText, writeWhole } from './originAnswers.ts';
import { awaitDirectives, checkReach, livePart, type Directives } from './liveEdge.ts';

export type HotRoute = 'playlist' | 'playlist_blocking' | 'init' | 'segment' | 'part';

export interface OriginHotPathOptions {
  logger: Logger;
  /** Longest wait of a blocking request; defaults to the packager's blockingTimeoutMs. */
  blockingTimeoutMs?: number;
  /** A path prefix the origin is also served under (a broadcast node's `/b/<node>`), stripped before `/live/`. */
  prefix?: string;
  /**
   * Signed viewer URLs (viewerAuth.ts `signedUrlChecker`): the `/live/…` URL to
   * serve, unwrapped when signed, or undefined to leave the request to Express
   * (which refuses it with the reason).
   */
  unwrap?: (url: string) => string | undefined;
  /** Called for each request the hot path takes, before it is answered (metrics, viewer counts). */
  onTake?: (req: IncomingMessage, res: ServerResponse, route: HotRoute, broadcastId: string) => void;
}

/** `(req, res) => taken`: false leaves the request untouched for the next handler. */
export type OriginHotPath = (req: IncomingMessage, res: ServerResponse) => boolean;

const DIRECTIVE_NAMES = new Set(['_HLS_msn', '_HLS_part', '_HLS_skip']);
const INT = /^\d{1,12}$/;

/** The directives of a query that holds nothing else, all well-formed; undefined to decline. */
function hotDirectives(query: string): Directives | undefined {
  const d: Directives = { msn: undefined, part: undefined, skip: 'NO' };
  if (query === '') return d;
  const seen = new Set<string>();
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    if (!DIRECTIVE_NAMES.has(name) || seen.has(name)) return undefined;
    seen.add(name);
    if (name === '_HLS_skip') {
      if (value !== 'YES' && value !== 'v2') return undefined;
      d.skip = value;
    } else {
      if (!INT.test(value)) return undefined;
      if (name === '_HLS_msn') d.msn = Number(value);
      else d.part = Number(value);
    }
  }
  return d.part !== undefined && d.msn === undefined ? undefined : d;
}

export function createOriginHotPath(packager: Packager, opts: OriginHotPathOptions): OriginHotPath {
  const logger = opts.logger.child({ role: 'packager', component: 'origin' });
  const timeout = opts.blockingTimeoutMs ?? packager.config.blockingTimeoutMs;
  const failed = (res: ServerResponse, err: unknown) => {
    if (err instanceof InputError) {
      if (!res.headersSent) writeText(res, err.status, cacheControl.error, err.message);
      return;
    }
    logger.error({ err: errorMessage(err) }, 'origin request failed');
    if (!res.headersSent) writeText(res, 502, cacheControl.error, 'origin error');
    else res.destroy();
  };

  return (req, res) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || req.headers.range !== undefined) return false;
    let url = req.url ?? '';
    if (opts.prefix && url.startsWith(`${opts.prefix}/live/`)) url = url.slice(opts.prefix.length);
    if (!url.startsWith('/live/')) return false;
    if (opts.unwrap) {
      const unwrapped = opts.unwrap(url);
      if (unwrapped === undefined) return false;
      url = unwrapped;
    }
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const seg = path.split('/'); // '', 'live', broadcast, track, name
    if (seg.length !== 5) return false;
    const [, , id, trackId, name] = seg as [string, string, string, string, string];
    if (!ID_PATTERN.test(id) || !ID_PATTERN.test(trackId)) return false;
    const b = packager.getBroadcast(id);
    const track = b?.track(trackId);
    const obj = parseTrackObjectName(name);
    if (!b || !track || !obj) return false;
    const query = q < 0 ? '' : url.slice(q + 1);

    if (obj.type === 'playlist') {
      const d = hotDirectives(query);
      if (!d) return false;
      try {
        checkReach(b, track, d);
      } catch {
        return false; // Express answers the 400
      }
      opts.onTake?.(req, res, d.msn === undefined ? 'playlist' : 'playlist_blocking', id);
      void (async () => {
        if (d.msn !== undefined) {
          const hold = holdSignal(req, res);
          const ok = await awaitDirectives(b, track, d, timeout, hold.signal);
          hold.release();
          if (res.writableEnded || res.destroyed) return;
          if (!ok) return writeText(res, 503, cacheControl.error, 'requested part did not arrive in time', { 'Retry-After': '1' });
        }
        const bytes = b.mediaPlaylistBytes(track.id, d.skip);
        if (!bytes) return writeText(res, 404, cacheControl.notFound, 'no media yet');
        const meta = manifestMeta(names.playlist, b.ended, d.msn !== undefined);
        writeWhole(req, res, bytes, meta.contentType, meta.cacheControl, false);
      })().catch((err: unknown) => failed(res, err));
      return true;
    }
    if (query !== '') return false;
    const meta = mediaMeta(name, track.kind);
    switch (obj.type) {
      case 'init': {
        const init = track.inits.get(obj.period);
        if (!init) return false;
        opts.onTake?.(req, res, 'init', id);
        writeWhole(req, res, init.bytes, meta.contentType, meta.cacheControl, true);
        return true;
      }
      case 'segment': {
        const s = track.segment(obj.msn);
        if (!s?.complete || !s.bytes) return false;
        opts.onTake?.(req, res, 'segment', id);
        writeWhole(req, res, s.bytes, meta.contentType, meta.cacheControl, true);
        return true;
      }
      case 'part': {
        opts.onTake?.(req, res, 'part', id);
        void livePart(b, track, obj.msn, obj.index, timeout, () => holdSignal(req, res))
          .then((part) => {
            if (res.writableEnded || res.destroyed) return;
            if (!part) return writeText(res, 404, cacheControl.notFound, 'not found');
            writeWhole(req, res, part.bytes, meta.contentType, meta.cacheControl, true);
          })
          .catch((err: unknown) => failed(res, err));
        return true;
      }
    }
  };
}
