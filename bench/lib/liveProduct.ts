/**
 * The product live for a benchmark's viewers (bench:load, bench:audience): one
 * product process (bench/origin-server.ts, `app` feed, role `all`, filesystem
 * store), a Chromium host page publishing its clock canvas (640×360, cheap to
 * encode) and fake microphone through the SFU, the control API's go-live, and
 * the broadcast's part landings followed until every track has two segments.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import type http from 'node:http';
import { launchChromium } from '../../test/helpers/browser.ts';
import { startOriginProcess, type OriginProcess, type PartLanding } from './originProcess.ts';

export interface LiveProductOptions {
  stage: string;
  blockingTimeoutMs: number;
  server: http.ServerOptions;
  rtpPorts: { min: number; max: number };
  /** The app config's `transcode` section. */
  transcode: Record<string, unknown>;
  /** Merged over the bench's `ingest` section (e.g. WHEP on), and the app's `api` section. */
  ingest?: Record<string, unknown>;
  api?: Record<string, unknown>;
}

type StageStatus = {
  producers: unknown[];
  broadcast?: { id: string; transcoder?: { pid?: number; restarts: number; speed?: number }; renditions: { trackId: string }[] };
};

export interface LiveProduct {
  readonly origin: OriginProcess;
  /** http://127.0.0.1:<port> of the product process. */
  readonly base: string;
  /** The broadcast this go-live started (`<stage>-<UTC start>`): what viewers' URLs name. */
  readonly broadcastId: string;
  readonly tracks: string[];
  readonly ffmpegPid: number;
  /** The product's mediasoup worker processes. */
  readonly workerPids: number[];
  /** Calls the product's control API with its admin token; throws on a non-2xx answer. */
  control<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** Every part landing of the broadcast, as the packager saw it. */
  onPart(fn: (p: PartLanding) => void): void;
  /** The transcoder's restarts and speed now. */
  transcoder(): Promise<{ restarts: number; speed: number | undefined }>;
  stop(): Promise<void>;
}

const ADMIN = 'bench-live-admin-token-0123456789';

export async function startLiveProduct(opts: LiveProductOptions): Promise<LiveProduct> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-live-'));
  const origin = await startOriginProcess({
    broadcast: opts.stage,
    blockingTimeoutMs: opts.blockingTimeoutMs,
    server: opts.server,
    feed: {
      kind: 'app',
      storeDir: path.join(tmp, 'store'),
      adminToken: ADMIN,
      rtpPorts: opts.rtpPorts,
      transcode: opts.transcode,
      ...(opts.ingest ? { ingest: opts.ingest } : {}),
      ...(opts.api ? { api: opts.api } : {}),
    },
  });
  const base = `http://127.0.0.1:${origin.port}`;
  const control = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${base}/api${p}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const answer = (await res.json()) as T;
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(answer)}`);
    return answer;
  };
  let browser: Browser | undefined;
  const stop = async () => {
    await browser?.close();
    await origin.stop();
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    browser = await launchChromium();
    const host = await browser.newPage();
    await host.goto(`${base}/host/?stage=${opts.stage}&autostart=1&source=clock#token=${origin.hostToken}`);
    const deadline = Date.now() + 60_000;
    while ((await control<StageStatus>('GET', `/stages/${opts.stage}`)).producers.length < 2) {
      if (Date.now() > deadline) throw new Error('the host page did not publish within 60 s');
      await new Promise((r) => setTimeout(r, 250));
    }
    const started = await control<{ broadcast: { id: string } }>('POST', `/stages/${opts.stage}/live`);
    const broadcastId = started.broadcast.id;
    const landed = new Map<string, number>();
    let tracks: string[] = [];
    const firstSegments = new Promise<void>((resolve) => {
      origin.onPart((p) => {
        landed.set(p.track, (landed.get(p.track) ?? 0) + 1);
        // Two segments of every track: the master playlist is served and viewers find a whole segment to start with.
        if (tracks.length > 0 && tracks.every((t) => (landed.get(t) ?? 0) >= 10)) resolve();
      });
    });
    if (!(await origin.watch(broadcastId))) throw new Error(`no live broadcast ${broadcastId} after go-live`);
    const live = (await control<StageStatus>('GET', `/stages/${opts.stage}`)).broadcast!;
    tracks = live.renditions.map((r) => r.trackId);
    await firstSegments;
    const ffmpegPid = (await control<StageStatus>('GET', `/stages/${opts.stage}`)).broadcast?.transcoder?.pid;
    if (ffmpegPid === undefined) throw new Error('the broadcast has no FFmpeg');
    return {
      origin,
      base,
      broadcastId,
      tracks,
      ffmpegPid,
      workerPids: origin.workerPids,
      control,
      onPart: (fn) => origin.onPart(fn),
      transcoder: async () => {
        const t = (await control<StageStatus>('GET', `/stages/${opts.stage}`)).broadcast?.transcoder;
        return { restarts: t?.restarts ?? 0, speed: t?.speed };
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
