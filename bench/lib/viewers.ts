/**
 * A load-generator process for bench/load.ts (forked; talks over IPC): a share
 * of the simulated LL-HLS viewers. Each viewer behaves as a player at the live
 * edge does (hls.js 1.7 with lowLatencyMode, or AVPlayer for the share that
 * fetches preload hints):
 *  - loads master.m3u8, picks a video rendition by the configured mix, and runs
 *    two loaders at once: its video rendition and the audio group, each
 *    `index.m3u8` (no directives), `init-*.mp4`, the newest complete segment
 *    and the parts of the segment in progress;
 *  - then a blocking reload `index.m3u8?_HLS_msn=…&_HLS_part=…&_HLS_skip=YES`
 *    for the part after the last one listed (hls.js's rule, nextDirective) (hls.js asks for delta updates when
 *    the playlist has CAN-SKIP-UNTIL), and as each reload answers, the next one
 *    goes out at once while the new part(s) are fetched one at a time (hls.js
 *    loads playlists and fragments concurrently);
 *  - a loader that has fallen so far behind that the playlist no longer lists
 *    a segment's parts loads that whole segment instead (as hls.js does);
 *  - hint viewers also request the PRELOAD-HINT part as soon as it is named
 *    (the origin holds it until it lands) and do not fetch it again;
 *  - the video loader switches rendition now and then (ABR): the new
 *    rendition's playlist, its init segment and newest segment.
 * Each viewer has its own keep-alive pool (≤ 6 sockets, a browser's
 * per-host limit; bench/lib/rawHttp.ts, a lean client so that the generator
 * is not what a large audience measures), so connections are not shared
 * between viewers.
 *
 * Latency per request kind goes into mergeable histograms; for blocking
 * reloads and hinted parts it is counted from the part's availability
 * (landing times come from the origin over IPC): received − max(sent, landed).
 * Every failure is recorded by kind with an example.
 */
import { RawPool, type RawHttpError, type RawResponse } from './rawHttp.ts';
import { Histogram } from './histogram.ts';
import { REQUEST_KINDS, type KindResult, type RequestKind, type RunJob, type RunResult } from './viewerJob.ts';

type Msg = { type: 'part'; track: string; msn: number; part: number; at: number } | RunJob | { type: 'exit' };

const now = (): number => performance.timeOrigin + performance.now();
/** Part landings per track, in order: [msn, part, wall-clock ms]. */
const landed = new Map<string, [number, number, number][]>();

/**
 * When the part (msn, part) of a track became available: the landing of the
 * first part at or after it. A blocking reload or hint for a part that never
 * exists (the hint named part 5 but the segment ended at 4) is answered when
 * the next segment's first part lands.
 */
function availableAt(track: string, msn: number, part: number): number | undefined {
  const list = landed.get(track);
  if (!list) return undefined;
  let at: number | undefined;
  for (let i = list.length - 1; i >= 0; i--) {
    const [m, p, t] = list[i]!;
    if (m < msn || (m === msn && p < part)) break;
    at = t;
  }
  return at;
}

const kinds = Object.fromEntries(REQUEST_KINDS.map((k) => [k, { hist: new Histogram(), requests: 0, immediate: 0, bytes: 0 }])) as Record<
  RequestKind,
  { hist: Histogram; requests: number; immediate: number; bytes: number }
>;
const errors = new Map<string, { count: number; example: string; firstS: number; lastS: number }>();
let t0 = 0;
let sockets = 0;
let unmatched = 0;
let fellBehind = 0;
let hintMisses = 0;
/** Blocking/hint responses waiting for their part's landing time to arrive over IPC. */
let pending: { track: string; msn: number; part: number; kind: RequestKind; sent: number; at: number; cache: string | undefined }[] = [];
/** Blocking reloads by the cache's X-Cache-Status (behind nginx): MISS went to the origin, HIT came from the cache (or waited on its lock). */
const blockingByCache = new Map<string, Histogram>();

/** Records a failure; firstS/lastS: seconds since the run's start, to see when they happened. */
function fail(kind: string, example: string): void {
  const s = Math.round((now() - t0) / 100) / 10;
  const e = errors.get(kind);
  if (e) {
    e.count++;
    e.lastS = s;
  } else errors.set(kind, { count: 1, example, firstS: s, lastS: s });
}

/** Resolves pending samples whose landing is known; those older than 10 s without one are counted as unmatched. */
function settle(measureFrom: number, force = false): void {
  const keep: typeof pending = [];
  const t = now();
  for (const s of pending) {
    const l = availableAt(s.track, s.msn, s.part);
    if (l === undefined) {
      if (force || t - s.at > 10_000) unmatched++;
      else keep.push(s);
      continue;
    }
    const k = kinds[s.kind];
    if (s.sent >= l) k.immediate++;
    if (s.sent >= measureFrom) {
      k.hist.record(s.at - Math.max(s.sent, l));
      if (s.kind === 'blocking' && s.cache) {
        let h = blockingByCache.get(s.cache);
        if (!h) blockingByCache.set(s.cache, (h = new Histogram()));
        h.record(s.at - Math.max(s.sent, l));
      }
    }
  }
  pending = keep;
}

interface Playlist {
  /** Parts listed, in order, as [msn, index]. */
  parts: [number, number][];
  hint: [number, number] | undefined;
  map: string | undefined;
  lastSegment: number | undefined;
}

const PART_RE = /#EXT-X-PART:[^\n]*URI="part-(\d+)\.(\d+)\.m4s"/g;

function parsePlaylist(text: string): Playlist {
  const parts: [number, number][] = [];
  for (const m of text.matchAll(PART_RE)) parts.push([Number(m[1]), Number(m[2])]);
  const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-(\d+)\.(\d+)\.m4s"/.exec(text);
  const maps = [...text.matchAll(/#EXT-X-MAP:URI="([^"]+)"/g)];
  const segs = [...text.matchAll(/^seg-(\d+)\.m4s$/gm)];
  return {
    parts,
    hint: hint ? [Number(hint[1]), Number(hint[2])] : undefined,
    map: maps.at(-1)?.[1],
    lastSegment: segs.length ? Number(segs.at(-1)![1]) : undefined,
  };
}

/**
 * The part a blocking reload asks for, as hls.js 1.7 works it out
 * (base-playlist-controller, lowLatencyMode): the part after the last one
 * listed, or part 0 of the next segment when the last listed part closed a
 * complete segment. Not the preload hint, which the playlist omits for the
 * moment between a segment reaching its target and the next part.
 */
function nextDirective(pl: Playlist): [number, number] {
  const last = pl.parts.at(-1);
  if (!last) return [(pl.lastSegment ?? -1) + 1, 0];
  return last[0] === pl.lastSegment ? [last[0] + 1, 0] : [last[0], last[1] + 1];
}

const after = (a: [number, number], b: [number, number]): boolean => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

interface Master {
  video: string[];
  audio: string | undefined;
}

function parseMaster(text: string): Master {
  const lines = text.split('\n');
  const video: { uri: string; bw: number }[] = [];
  lines.forEach((l, i) => {
    const m = /^#EXT-X-STREAM-INF:.*BANDWIDTH=(\d+)/.exec(l);
    if (m && lines[i + 1]) video.push({ uri: lines[i + 1]!.trim(), bw: Number(m[1]) });
  });
  video.sort((a, b) => b.bw - a.bw);
  const audio = /#EXT-X-MEDIA:TYPE=AUDIO[^\n]*URI="([^"]+)"/.exec(text)?.[1];
  return { video: video.map((v) => v.uri), audio };
}

class Viewer {
  readonly #pool: RawPool;
  readonly #job: RunJob;
  readonly #hint: boolean;
  readonly #base: string;
  #behind = false;

  constructor(job: RunJob, index: number) {
    this.#job = job;
    this.#pool = new RawPool('127.0.0.1', job.port, 6);
    // Spread hint viewers evenly over the indices (and so over the generators).
    this.#hint = Math.floor((index + 1) * job.hintShare) > Math.floor(index * job.hintShare);
    this.#base = `${job.prefix}/live/${job.broadcast}`;
  }

  async #req(kind: RequestKind, path: string, text = false): Promise<RawResponse | undefined> {
    const sent = now();
    const k = kinds[kind];
    k.requests++;
    try {
      const r = await this.#pool.get(path, text);
      const at = now();
      k.bytes += r.bytes;
      if (kind === 'hint' && r.status === 404) {
        // The hinted part was never produced (the segment ended before it): the spec lets
        // the server answer 404 and the client ignore it; counted apart, not as an error.
        hintMisses++;
        return undefined;
      }
      if (r.status < 200 || r.status > 299) {
        fail(`${kind}: HTTP ${r.status}`, `${path}: ${r.body.slice(0, 120)}`);
        return undefined;
      }
      if (kind !== 'blocking' && kind !== 'hint') {
        if (sent >= this.#job.measureFrom) k.hist.record(at - sent);
      } else {
        const m = /(?:_HLS_msn=(\d+)&_HLS_part=(\d+))|part-(\d+)\.(\d+)\.m4s/.exec(path)!;
        const track = path.slice(this.#base.length + 1, path.indexOf('/', this.#base.length + 1));
        pending.push({ track, msn: Number(m[1] ?? m[3]), part: Number(m[2] ?? m[4]), kind, sent, at, cache: r.cache });
      }
      return r;
    } catch (err) {
      const e = err as RawHttpError;
      fail(`${kind}: ${e.kind ?? 'error'}`, e.message);
      return undefined;
    }
  }

  #pickVideo(master: Master, index: number): string {
    const w = this.#job.mix.slice(0, master.video.length);
    const total = w.reduce((a, b) => a + b, 0);
    // Deterministic by index: viewer i falls at a fixed point of the cumulative weights.
    let x = ((index * 0.6180339887) % 1) * total;
    for (let i = 0; i < w.length; i++) {
      x -= w[i]!;
      if (x < 0) return master.video[i]!;
    }
    return master.video[0]!;
  }

  async run(index: number): Promise<void> {
    const master = await this.#retry(async () => {
      const r = await this.#req('master', `${this.#base}/master.m3u8`, true);
      return r ? parseMaster(r.body) : undefined;
    });
    if (!master || master.video.length === 0) return;
    const video = { uri: this.#pickVideo(master, index) };
    await Promise.all([this.#loader(video, master), ...(master.audio ? [this.#loader({ uri: master.audio }, undefined)] : [])]);
    sockets += this.#pool.opened;
    this.#pool.destroy();
    if (this.#behind) fellBehind++;
  }

  /** Retries a playlist load every 500 ms until it succeeds or the run ends (hls.js retries manifests too). */
  async #retry<T>(fn: () => Promise<T | undefined>): Promise<T | undefined> {
    while (now() < this.#job.end) {
      const v = await fn();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 500));
    }
    return undefined;
  }

  /** One playlist loader (video or audio) at the live edge; `master` set for video, which may switch rendition. */
  async #loader(rendition: { uri: string }, master: Master | undefined): Promise<void> {
    const dir = (uri: string) => `${this.#base}/${uri.slice(0, uri.lastIndexOf('/'))}`;
    let track = dir(rendition.uri);
    /** The newest part fetched or requested (hinted), as [msn, index]. */
    let have: [number, number] = [-1, -1];
    let fragments: Promise<unknown> = Promise.resolve();
    /** The oldest segment whose parts the newest playlist still lists; older parts may be gone. */
    let partsFrom = -1;
    /** Whole segments fetched in place of parts no longer listed (per rendition). */
    let segmentsFetched = new Set<number>();
    /**
     * A part, or, when the loader has fallen so far behind that the playlist no longer lists the
     * segment's parts, the whole segment once (hls.js loads the segment when its parts are gone).
     */
    const fetchPart = async (kind: 'part' | 'hint', t: string, msn: number, i: number) => {
      if (t === track && msn < partsFrom) {
        this.#behind = true;
        if (segmentsFetched.has(msn)) return;
        segmentsFetched.add(msn);
        await this.#req('segment', `${t}/seg-${msn}.m4s`);
        return;
      }
      await this.#req(kind, `${t}/part-${msn}.${i}.m4s`);
    };
    const fetchParts = (pl: Playlist) => {
      if (pl.parts.length > 0) partsFrom = pl.parts[0]![0];
      const fresh = pl.parts.filter((p) => after(p, have));
      if (fresh.length === 0) return;
      // More than a segment's worth of new parts: this loader has fallen behind the live edge.
      if (fresh.length > 6 && have[0] >= 0) this.#behind = true;
      have = fresh.at(-1)!;
      const t = track;
      fragments = fragments.then(async () => {
        for (const [msn, i] of fresh) await fetchPart('part', t, msn, i);
      });
    };
    const tuneIn = async (): Promise<Playlist | undefined> => {
      const pl = await this.#retry(async () => {
        const r = await this.#req('playlist', `${track}/index.m3u8`, true);
        return r ? parsePlaylist(r.body) : undefined;
      });
      if (!pl) return undefined;
      // Start of playback, or a switch: init segment, the newest whole segment, then the parts after it.
      const t = track;
      const curMsn = pl.hint?.[0];
      fragments = fragments.then(async () => {
        if (pl.map) await this.#req('init', `${t}/${pl.map}`);
        if (pl.lastSegment !== undefined) await this.#req('segment', `${t}/seg-${pl.lastSegment}.m4s`);
      });
      have = pl.lastSegment !== undefined ? [pl.lastSegment, 1e9] : [-1, -1];
      segmentsFetched = new Set();
      fetchParts({ ...pl, parts: pl.parts.filter((p) => curMsn === undefined || p[0] >= curMsn) });
      return pl;
    };
    let pl = await tuneIn();
    let nextSwitch = this.#nextSwitch();
    while (pl && now() < this.#job.end) {
      const hint = pl.hint;
      if (this.#hint && hint && after(hint, have)) {
        have = hint;
        const t = track;
        fragments = fragments.then(() => fetchPart('hint', t, hint[0], hint[1]));
      }
      const [msn, part] = nextDirective(pl);
      const r = await this.#req('blocking', `${track}/index.m3u8?_HLS_msn=${msn}&_HLS_part=${part}&_HLS_skip=YES`, true);
      if (!r) {
        await new Promise((res) => setTimeout(res, 200));
        continue;
      }
      pl = parsePlaylist(r.body);
      fetchParts(pl);
      if (master && master.video.length > 1 && now() >= nextSwitch) {
        nextSwitch = this.#nextSwitch();
        const others = master.video.filter((u) => dir(u) !== track);
        rendition.uri = others[Math.floor(Math.random() * others.length)]!;
        track = dir(rendition.uri);
        await fragments; // the old rendition's queued parts finish first, as a player's buffer would
        pl = await tuneIn();
      }
    }
    await fragments;
  }

  #nextSwitch(): number {
    const mean = this.#job.switchEverySec;
    return mean > 0 ? now() - Math.log(1 - Math.random()) * mean * 1000 : Infinity;
  }
}

async function run(job: RunJob): Promise<void> {
  t0 = job.t0;
  const timer = setInterval(() => settle(job.measureFrom), 1000);
  let started = 0;
  await Promise.all(
    Array.from({ length: job.viewers }, async (_, i) => {
      const index = job.firstIndex + i;
      const startAt = job.t0 + (job.rampMs * index) / job.totalViewers;
      await new Promise((r) => setTimeout(r, Math.max(0, startAt - now())));
      started++;
      await new Viewer(job, index).run(index);
    }),
  );
  clearInterval(timer);
  // Landings of the last parts may still be on the IPC pipe.
  await new Promise((r) => setTimeout(r, 500));
  settle(job.measureFrom, true);
  const result: RunResult = {
    type: 'result',
    kinds: Object.fromEntries(REQUEST_KINDS.map((k) => [k, { hist: kinds[k].hist.toJSON(), requests: kinds[k].requests, immediate: kinds[k].immediate, bytes: kinds[k].bytes }])) as Record<
      RequestKind,
      KindResult
    >,
    errors: Object.fromEntries(errors),
    unmatched,
    viewersStarted: started,
    sockets,
    fellBehind,
    hintMisses,
    blockingByCache: Object.fromEntries([...blockingByCache].map(([k, h]) => [k, h.toJSON()])),
  };
  process.send!(result);
}

process.on('message', (m: Msg) => {
  if (m.type === 'part') {
    const list = landed.get(m.track) ?? [];
    list.push([m.msn, m.part, m.at]);
    if (list.length > 2000) list.splice(0, 1000);
    landed.set(m.track, list);
  } else if (m.type === 'run') void run(m);
  else if (m.type === 'exit') process.exit(0);
});
process.send!({ type: 'ready' });
