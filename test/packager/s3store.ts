/* eslint-disable @typescript-eslint/no-explicit-any -- the parsers return untyped objects */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ObjectMeta, ObjectStore } from '../../packager/index.ts';
import { readM3u8, readMpd } from './readback.ts';

export { S3Server, credentials } from '../helpers/s3.ts';

/** A proxy in front of a server that answers 503 while `failing(req)` says so, and logs every request. */
export class FaultProxy {
  readonly log: { method: string; path: string; at: number; status: number }[] = [];
  failing: (req: http.IncomingMessage) => boolean = () => false;
  readonly server: http.Server;
  port = 0;

  constructor(readonly targetPort: () => number) {
    this.server = http.createServer((req, res) => {
      const at = performance.now();
      if (this.failing(req)) {
        this.log.push({ method: req.method!, path: req.url!, at, status: 503 });
        req.resume();
        res.writeHead(503, { 'Content-Type': 'application/xml' }).end('<Error><Code>ServiceUnavailable</Code><Message>try later</Message></Error>');
        return;
      }
      const up = http.request({ host: '127.0.0.1', port: this.targetPort(), method: req.method, path: req.url, headers: req.headers }, (r) => {
        this.log.push({ method: req.method!, path: req.url!, at, status: r.statusCode ?? 0 });
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Keys of the objects a manifest names (via the independent parsers); segments marked EXT-X-GAP are not named. */
export function namedBy(key: string, text: string): string[] {
  const dirOf = key.slice(0, key.lastIndexOf('/'));
  if (key.endsWith('.mpd')) {
    const m = readMpd(text, `http://x/${key}`) as any;
    const all = [...m.playlists, ...Object.values(m.mediaGroups.AUDIO ?? {}).flatMap((g: any) => Object.values(g).flatMap((x: any) => x.playlists))];
    return [...new Set(all.flatMap((p: any) => p.segments.flatMap((s: any) => [s.resolvedUri, s.map.resolvedUri])).map((u: string) => new URL(u).pathname.slice(1)))] as string[];
  }
  const m = readM3u8(text) as any;
  if (m.playlists) {
    const groups = [...Object.values(m.mediaGroups.AUDIO ?? {}), ...Object.values(m.mediaGroups.SUBTITLES ?? {})];
    return [...m.playlists.map((p: any) => `${dirOf}/${p.uri}`), ...groups.flatMap((g: any) => Object.values(g).map((r: any) => `${dirOf}/${r.uri}`))];
  }
  const gaps = new Set(gapUris(text));
  // WebVTT segments (the captions rendition) have no EXT-X-MAP.
  const map = (s: any): string[] => (s.map ? [`${dirOf}/${s.map.uri}`] : []);
  return [...new Set(m.segments.flatMap((s: any) => (gaps.has(s.uri) ? map(s) : [`${dirOf}/${s.uri}`, ...map(s)])))] as string[];
}

/** URIs of segments marked EXT-X-GAP in a media playlist. */
export function gapUris(text: string): string[] {
  const out: string[] = [];
  let gap = false;
  for (const line of text.split('\n')) {
    if (line === '#EXT-X-GAP') gap = true;
    else if (line && !line.startsWith('#')) {
      if (gap) out.push(line);
      gap = false;
    }
  }
  return out;
}

/** Records each completed upload and checks that what a manifest names was uploaded before it. */
export class RecordingStore implements ObjectStore {
  readonly done = new Set<string>();
  /** Playlists naming an object not uploaded yet. */
  readonly violations: string[] = [];
  /** Objects an MPD named before they were uploaded (DASH has no gap signalling: a dropped segment stays named; see README). */
  readonly mpdNamedMissing = new Set<string>();
  readonly manifests = new Set<string>();
  constructor(readonly inner: ObjectStore) {}
  async put(key: string, body: Buffer, meta: ObjectMeta): Promise<void> {
    const isManifest = /\.(m3u8|mpd)$/.test(key);
    if (isManifest) {
      for (const named of namedBy(key, body.toString('utf8'))) {
        if (this.done.has(named)) continue;
        if (key.endsWith('.mpd')) this.mpdNamedMissing.add(named);
        else this.violations.push(`${key} names ${named} before it was uploaded`);
      }
    }
    await this.inner.put(key, body, meta);
    this.done.add(key);
    if (isManifest) this.manifests.add(key);
  }
  get(key: string) {
    return this.inner.get(key);
  }
}
