/**
 * A latency histogram with logarithmic buckets (each 2 % wider than the last,
 * from 0.01 ms to about 20 minutes): constant memory however many samples,
 * and mergeable, so generator processes send buckets rather than millions of
 * samples. Percentiles are the upper bound of their bucket (within 2 %),
 * capped at the largest sample seen.
 */
const MIN_MS = 0.01;
const GROWTH = 1.02;
const BUCKETS = Math.ceil(Math.log(1.2e6 / MIN_MS) / Math.log(GROWTH)) + 1;
const LOG_GROWTH = Math.log(GROWTH);

export interface HistogramData {
  counts: Record<number, number>;
  count: number;
  sum: number;
  max: number;
}

export class Histogram {
  readonly #counts = new Uint32Array(BUCKETS);
  count = 0;
  sum = 0;
  max = 0;

  record(ms: number): void {
    const v = ms > MIN_MS ? ms : MIN_MS;
    const i = Math.min(BUCKETS - 1, Math.ceil(Math.log(v / MIN_MS) / LOG_GROWTH));
    this.#counts[i]!++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  /** The value below which `p` % of the samples fall (upper bucket bound, capped at the max); NaN when empty. */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(MIN_MS * GROWTH ** i, this.max);
    }
    return this.max;
  }

  get mean(): number {
    return this.count ? this.sum / this.count : NaN;
  }

  /** Sparse form for IPC and JSON. */
  toJSON(): HistogramData {
    const counts: Record<number, number> = {};
    this.#counts.forEach((c, i) => {
      if (c) counts[i] = c;
    });
    return { counts, count: this.count, sum: this.sum, max: this.max };
  }

  merge(d: HistogramData): this {
    for (const [i, c] of Object.entries(d.counts)) this.#counts[Number(i)]! += c;
    this.count += d.count;
    this.sum += d.sum;
    if (d.max > this.max) this.max = d.max;
    return this;
  }
}
