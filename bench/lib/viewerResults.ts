/**
 * The viewer generators' results (bench/lib/viewers.ts) merged, and printed as
 * the per-kind table bench:load and bench:audience share.
 */
import { Histogram } from './histogram.ts';
import { REQUEST_KINDS, type RequestKind, type RunResult } from './viewerJob.ts';

export interface MergedResults {
  hist: Record<RequestKind, Histogram>;
  requests: Record<RequestKind, number>;
  immediate: Record<RequestKind, number>;
  bytes: Record<RequestKind, number>;
  errors: Map<string, { count: number; example: string; firstS: number; lastS: number }>;
  totalRequests: number;
  totalErrors: number;
  totalBytes: number;
  errorsOf(kind: RequestKind): number;
  unmatched: number;
  hintMisses: number;
  viewersStarted: number;
  fellBehind: number;
  sockets: number;
  /** Blocking-reload latency by X-Cache-Status (behind nginx). */
  blockingByCache: Map<string, Histogram>;
}

const perKind = <T>(f: () => T) => Object.fromEntries(REQUEST_KINDS.map((k) => [k, f()])) as Record<RequestKind, T>;

export function mergeResults(results: RunResult[]): MergedResults {
  const hist = perKind(() => new Histogram());
  const requests = perKind(() => 0);
  const immediate = perKind(() => 0);
  const bytes = perKind(() => 0);
  const errors: MergedResults['errors'] = new Map();
  const blockingByCache = new Map<string, Histogram>();
  for (const r of results) {
    for (const [cache, h] of Object.entries(r.blockingByCache)) {
      let into = blockingByCache.get(cache);
      if (!into) blockingByCache.set(cache, (into = new Histogram()));
      into.merge(h);
    }
    for (const k of REQUEST_KINDS) {
      hist[k].merge(r.kinds[k].hist);
      requests[k] += r.kinds[k].requests;
      immediate[k] += r.kinds[k].immediate;
      bytes[k] += r.kinds[k].bytes;
    }
    for (const [kind, e] of Object.entries(r.errors)) {
      const prev = errors.get(kind);
      errors.set(kind, { count: (prev?.count ?? 0) + e.count, example: prev?.example ?? e.example, firstS: Math.min(prev?.firstS ?? Infinity, e.firstS), lastS: Math.max(prev?.lastS ?? 0, e.lastS) });
    }
  }
  const sum = (f: (r: RunResult) => number) => results.reduce((a, r) => a + f(r), 0);
  return {
    hist,
    requests,
    immediate,
    bytes,
    errors,
    totalRequests: REQUEST_KINDS.reduce((a, k) => a + requests[k], 0),
    totalErrors: [...errors.values()].reduce((a, e) => a + e.count, 0),
    totalBytes: REQUEST_KINDS.reduce((a, k) => a + bytes[k], 0),
    errorsOf: (k) => [...errors].filter(([kind]) => kind.startsWith(`${k}:`)).reduce((a, [, e]) => a + e.count, 0),
    unmatched: sum((r) => r.unmatched),
    hintMisses: sum((r) => r.hintMisses),
    viewersStarted: sum((r) => r.viewersStarted),
    fellBehind: sum((r) => r.fellBehind),
    sockets: sum((r) => r.sockets),
    blockingByCache,
  };
}

export const ms = (v: number): string => (Number.isNaN(v) ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(0));
export const pad = (s: string | number, n: number): string => String(s).padStart(n);

const NOTE: Record<RequestKind, string> = {
  master: 'response time',
  playlist: 'response time (tune-in, switch)',
  blocking: 'from part availability',
  init: 'response time',
  segment: 'response time',
  part: 'response time',
  hint: 'from part availability',
};

/** The per-kind table (requests, errors, latency percentiles), then the errors by kind, as lines. */
export function kindTable(m: MergedResults, seconds: number): string[] {
  const lines: string[] = [];
  lines.push(`${'kind'.padEnd(9)}${pad('requests', 10)}${pad('errors', 8)}${pad('measured', 10)}${pad('p50 ms', 9)}${pad('p95 ms', 9)}${pad('p99 ms', 9)}${pad('max ms', 9)}  latency`);
  for (const k of REQUEST_KINDS) {
    const h = m.hist[k];
    const extra = k === 'blocking' || k === 'hint' ? `; ${m.immediate[k]} asked for a part already there` : '';
    lines.push(`${k.padEnd(9)}${pad(m.requests[k], 10)}${pad(m.errorsOf(k), 8)}${pad(h.count, 10)}${pad(ms(h.percentile(50)), 9)}${pad(ms(h.percentile(95)), 9)}${pad(ms(h.percentile(99)), 9)}${pad(ms(h.count ? h.max : NaN), 9)}  ${NOTE[k]}${extra}`);
  }
  lines.push(`${'total'.padEnd(9)}${pad(m.totalRequests, 10)}${pad(m.totalErrors, 8)}   (${(m.totalRequests / seconds).toFixed(0)} req/s, ${((m.totalBytes * 8) / 1e6 / seconds).toFixed(0)} Mbit/s)`);
  lines.push('');
  lines.push(m.totalErrors === 0 ? 'errors: none' : `errors (${m.totalErrors}):`);
  for (const [kind, e] of [...m.errors].sort((a, b) => b[1].count - a[1].count)) lines.push(`  ${pad(e.count, 7)}  ${kind} (${e.firstS}–${e.lastS} s after start)   e.g. ${e.example}`);
  if (m.unmatched) lines.push(`  (${m.unmatched} blocking/hint responses whose part landing never reached the generator: not in the latency figures)`);
  if (m.hintMisses) lines.push(`hinted parts never produced (404: the segment ended before the hinted part; allowed, not an error): ${m.hintMisses}`);
  lines.push(`viewers started ${m.viewersStarted}; fell more than a segment behind the live edge at least once: ${m.fellBehind}`);
  return lines;
}
