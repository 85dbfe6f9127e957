/** The job a viewer generator (bench/lib/viewers.ts) runs and the result it sends back, shared with bench/load.ts. */
import type { HistogramData } from './histogram.ts';
import { share } from './generators.ts';

export type RequestKind = 'master' | 'playlist' | 'blocking' | 'init' | 'segment' | 'part' | 'hint';
export const REQUEST_KINDS: RequestKind[] = ['master', 'playlist', 'blocking', 'init', 'segment', 'part', 'hint'];

export interface RunJob {
  type: 'run';
  port: number;
  /** Path before `/live/` (a CDN's `/b/<node>`), '' straight at the origin. */
  prefix: string;
  broadcast: string;
  viewers: number;
  /** Index of this generator's first viewer among all, for start spacing and the mix. */
  firstIndex: number;
  totalViewers: number;
  /** Epoch ms: viewer i starts at t0 + rampMs × i / totalViewers. */
  t0: number;
  rampMs: number;
  /** Epoch ms: samples of requests sent from here on are the measured window. */
  measureFrom: number;
  /** Epoch ms: viewers stop issuing requests. */
  end: number;
  /** Share of viewers that fetch the preload-hinted part. */
  hintShare: number;
  /** Mean seconds between rendition switches of one viewer (0: never). */
  switchEverySec: number;
  /** Weights of the video renditions, highest first. */
  mix: number[];
}

export interface KindResult {
  /** Latency of measured-window requests (ms). */
  hist: HistogramData;
  /** Requests of the whole run, ramp included. */
  requests: number;
  /** Blocking reloads / hinted parts asked for a part that had already landed (answered at once). */
  immediate: number;
  bytes: number;
}

export interface RunResult {
  type: 'result';
  kinds: Record<RequestKind, KindResult>;
  errors: Record<string, { count: number; example: string; firstS: number; lastS: number }>;
  /** Blocking/hint samples whose part landing never reached this process. */
  unmatched: number;
  viewersStarted: number;
  /** Sockets opened by all viewers (connections, not requests). */
  sockets: number;
  /** Viewers whose loaders fell more than one segment behind the live edge at some point. */
  fellBehind: number;
  /** Hinted parts answered 404 because the segment ended before them (not errors: the spec allows it). */
  hintMisses: number;
  /** Measured blocking-reload latency by X-Cache-Status (only behind a cache that sends it). */
  blockingByCache: Record<string, HistogramData>;
}


/** What every generator's share of one audience has in common. */
export type AudienceJob = Omit<RunJob, 'type' | 'viewers' | 'firstIndex' | 'totalViewers'>;

/** Generator i's job of `generators` for an audience of `viewers`: its share, and where its viewers fall among all. */
export function generatorJob(audience: AudienceJob, viewers: number, generators: number, i: number): RunJob {
  const firstIndex = Array.from({ length: i }, (_, k) => share(viewers, generators, k)).reduce((a, b) => a + b, 0);
  return { type: 'run', ...audience, viewers: share(viewers, generators, i), firstIndex, totalViewers: viewers };
}
