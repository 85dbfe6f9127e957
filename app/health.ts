import { Router } from 'express';
import { errorMessage } from '../common/index.ts';
import type { Sfu } from '../ingest/index.ts';
import type { ObjectStore, Publisher } from '../packager/index.ts';

export interface HealthOptions {
  sfu: Sfu;
  store: ObjectStore | undefined;
  publisher: Publisher | undefined;
  /** How long a store probe's answer is reused, ms (probes are cheap GETs of a missing key). */
  probeEveryMs?: number;
  /** A probe slower than this counts as unreachable, ms. */
  probeTimeoutMs?: number;
}

export interface Readiness {
  ready: boolean;
  reasons: string[];
  /** Problems that do not make the instance unready (it keeps serving), but an operator should see. */
  degraded: string[];
  workers: number;
  stages: number;
  store: { ok: boolean; lastUploadAt?: string; lastFailureAt?: string; detail?: string };
}

const PROBE_KEY = '_health/probe';

/**
 * Liveness and readiness.
 * - `/healthz`: the event loop answers (a process that cannot answer this is restarted).
 * - `/readyz`: this instance should get traffic: a mediasoup worker is alive and it
 *   is not shutting down; 503 with the reasons otherwise. The object store's state
 *   (last upload ok, or a probe answered) is reported under `degraded` but does not
 *   fail readiness: while the store is away the origin serves the live edge from
 *   memory and the publisher queues, so pulling the node from the CDN/load
 *   balancer would turn a store outage into a viewer outage.
 */
export class Health {
  readonly #opts: Required<Pick<HealthOptions, 'probeEveryMs' | 'probeTimeoutMs'>> & HealthOptions;
  #shuttingDown = false;
  #lastUploadAt: number | undefined;
  #lastFailureAt: number | undefined;
  #lastFailure: string | undefined;
  #probe: { at: number; result: Promise<string | undefined> } | undefined;

  constructor(opts: HealthOptions) {
    this.#opts = { probeEveryMs: 5_000, probeTimeoutMs: 2_000, ...opts };
    opts.publisher?.on('uploaded', () => {
      this.#lastUploadAt = Date.now();
    });
    // A retry is a failed attempt too: while the store refuses, the last upload was not ok.
    const failed = (key: string, err: unknown) => {
      this.#lastFailureAt = Date.now();
      this.#lastFailure = `${key}: ${errorMessage(err)}`;
    };
    opts.publisher?.on('retry', (key, _attempt, _delay, err) => failed(key, err));
    opts.publisher?.on('uploadFailed', failed);
  }

  /** From now on readiness answers 503 (the process is draining). */
  setShuttingDown(): void {
    this.#shuttingDown = true;
  }

  async readiness(): Promise<Readiness> {
    const reasons: string[] = [];
    if (this.#shuttingDown) reasons.push('shutting down');
    const workers = this.#opts.sfu.workers.size;
    if (workers === 0) reasons.push('no mediasoup worker is alive');
    const store = await this.#storeState();
    const degraded = store.ok ? [] : [`object store: ${store.detail ?? 'not ok'}`];
    return { ready: reasons.length === 0, reasons, degraded, workers, stages: this.#opts.sfu.stages.length, store };
  }

  async #storeState(): Promise<Readiness['store']> {
    const times = {
      ...(this.#lastUploadAt !== undefined ? { lastUploadAt: new Date(this.#lastUploadAt).toISOString() } : {}),
      ...(this.#lastFailureAt !== undefined ? { lastFailureAt: new Date(this.#lastFailureAt).toISOString() } : {}),
    };
    if (!this.#opts.store) return { ok: true, detail: 'no store configured' };
    if (this.#lastFailureAt !== undefined && (this.#lastUploadAt === undefined || this.#lastFailureAt > this.#lastUploadAt)) {
      return { ok: false, ...times, detail: `last upload failed (${this.#lastFailure ?? ''})` };
    }
    // Uploads succeeding recently say enough; otherwise ask the store itself.
    if (this.#lastUploadAt !== undefined && Date.now() - this.#lastUploadAt < this.#opts.probeEveryMs) return { ok: true, ...times };
    const problem = await this.#probeStore();
    return problem ? { ok: false, ...times, detail: `unreachable (${problem})` } : { ok: true, ...times };
  }

  #probeStore(): Promise<string | undefined> {
    const now = Date.now();
    if (this.#probe && now - this.#probe.at < this.#opts.probeEveryMs) return this.#probe.result;
    const store = this.#opts.store!;
    const result = new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(`no answer within ${this.#opts.probeTimeoutMs} ms`), this.#opts.probeTimeoutMs);
      store.get(PROBE_KEY).then(
        () => {
          clearTimeout(timer);
          resolve(undefined);
        },
        (err: unknown) => {
          clearTimeout(timer);
          resolve(errorMessage(err));
        },
      );
    });
    this.#probe = { at: now, result };
    return result;
  }

  router(): Router {
    const router = Router();
    router.get('/healthz', (_req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json({ ok: true });
    });
    router.get('/readyz', async (_req, res) => {
      const r = await this.readiness();
      res.setHeader('Cache-Control', 'no-store');
      res.status(r.ready ? 200 : 503).json(r);
    });
    return router;
  }
}
