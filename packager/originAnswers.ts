/**
 * How the origin writes an answer, framework-free (a node ServerResponse), so
 * the Express routes and the hot path (originHotPath.ts) write the same bytes
 * and headers. A body held in memory (a part, a segment, an init, one version
 * of a playlist) gets its header block built once and kept beside it: a crowd
 * of blocked reloads for the same part is answered from one buffer and one
 * header block.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';

export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': 'Range, If-Range, If-None-Match, If-Modified-Since',
  'Access-Control-Expose-Headers': 'Age, Content-Length, Content-Range, Date, ETag',
  'Access-Control-Max-Age': '86400',
};
const CORS_FLAT = Object.entries(CORS_HEADERS).flat();

/** Strong ETags of bodies held in memory (live parts, segments, inits), so each is hashed once. */
const etags = new WeakMap<Buffer, string>();

/**
 * A strong entity tag: a digest of the bytes, so an object has the same tag
 * from memory, from the store and from any node (the origin's only validator:
 * it sends no Last-Modified).
 */
export function etagOf(buf: Buffer): string {
  let tag = etags.get(buf);
  if (tag === undefined) {
    tag = `"${createHash('sha256').update(buf).digest('base64url')}"`;
    etags.set(buf, tag);
  }
  return tag;
}

/** Header blocks of whole-body 200 answers, per body and Cache-Control (a playlist version is sent as 1 s and 6 s). */
const heads = new WeakMap<Buffer, Map<string, string[]>>();

/**
 * The flat header list of a 200 with this whole body. Media carry a strong
 * ETag; playlists (`tagged` false) carry none: nobody revalidates a blocking
 * reload, and hashing each version would cost the hottest path.
 */
export function wholeBodyHead(body: Buffer, contentType: string, cache: string, tagged: boolean): string[] {
  let byCache = heads.get(body);
  if (!byCache) heads.set(body, (byCache = new Map()));
  let head = byCache.get(cache);
  if (!head) {
    head = ['Content-Type', contentType, 'Cache-Control', cache, 'Accept-Ranges', 'bytes', ...(tagged ? ['ETag', etagOf(body)] : []), 'Content-Length', String(body.length), ...CORS_FLAT];
    byCache.set(cache, head);
  }
  return head;
}

/** A 200 with the whole body (none for HEAD), from its prebuilt header block. */
export function writeWhole(req: IncomingMessage, res: ServerResponse, body: Buffer, contentType: string, cache: string, tagged: boolean): void {
  res.writeHead(200, wholeBodyHead(body, contentType, cache, tagged));
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** A short text answer (404, 400, 503, …) with its Cache-Control. */
export function writeText(res: ServerResponse, status: number, cache: string, text: string, extra: Record<string, string> = {}): void {
  const body = Buffer.from(text);
  res.writeHead(status, { ...CORS_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': cache, 'Content-Length': String(body.length), ...extra });
  res.end(body);
}

/**
 * An AbortSignal that fires if the client goes away while we hold its
 * request; `release()` once the wait is over, so a normal end costs no abort
 * (each abort builds a DOMException).
 */
export function holdSignal(req: IncomingMessage, res: ServerResponse): { signal: AbortSignal; release: () => void } {
  const ac = new AbortController();
  const gone = () => ac.abort();
  res.once('close', gone);
  req.once('aborted', gone);
  return {
    signal: ac.signal,
    release: () => {
      res.off('close', gone);
      req.off('aborted', gone);
    },
  };
}
