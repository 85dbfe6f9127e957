/**
 * The origin process of the benchmarks (bench/origin-server.ts), seen from the
 * parent: start it, follow its part landings, ask it for its own CPU/memory
 * figures, stop it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type http from 'node:http';
import path from 'node:path';

export interface OriginServerOptions {
  broadcast: string;
  blockingTimeoutMs: number;
  /** http.createServer options of the origin listener (keep-alive and header timeouts). */
  server: http.ServerOptions;
  feed:
    | { kind: 'file'; file: string; segDir: string }
    /**
     * The whole product (bench:load, bench:whep); `transcode` is the app config's `transcode` section,
     * `ingest` and `api` are merged over the bench's (e.g. `{ whep: { enabled: true } }`).
     */
    | {
        kind: 'app';
        storeDir: string;
        adminToken: string;
        rtpPorts: { min: number; max: number };
        transcode: Record<string, unknown>;
        ingest?: Record<string, unknown>;
        api?: Record<string, unknown>;
      };
}

export interface PartLanding {
  type: 'part';
  track: string;
  msn: number;
  part: number;
  /** Wall-clock ms (performance.timeOrigin + now) when the part landed in the packager. */
  at: number;
}

export interface OriginProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** A host token for the stage (`app` feed only). */
  readonly hostToken: string | undefined;
  /** The product's mediasoup worker processes (`app` feed only). */
  readonly workerPids: number[];
  /** Starts the part reports of a live broadcast (`app` feed, after go-live); false if it is not there. */
  watch(broadcastId: string): Promise<boolean>;
  onPart(fn: (p: PartLanding) => void): void;
  /** The product's WHEP sessions now, how many of them are connected, and why sessions ended so far, by reason (`app` feed). */
  whep(): Promise<{ sessions: number; connected: number; ended: Record<string, number> }>;
  /** Restarts the origin's own CPU counter. */
  mark(): void;
  /** The origin's CPU since mark() (fraction of one core), RSS and heap, from inside the process. */
  stats(): Promise<{ cpu: number; rss: number; heap: number }>;
  stop(): Promise<void>;
}

export async function startOriginProcess(opts: OriginServerOptions): Promise<OriginProcess> {
  const child = fork(path.join(import.meta.dirname, '..', 'origin-server.ts'), [JSON.stringify(opts)], {
    // BENCH_ORIGIN_CPU_PROF=<dir>: a V8 CPU profile of the origin, to see where its time goes.
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_ORIGIN_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_ORIGIN_CPU_PROF}`] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const partListeners: ((p: PartLanding) => void)[] = [];
  child.on('message', (m: { type: string }) => {
    if (m.type === 'part') for (const fn of partListeners) fn(m as PartLanding);
  });
  const ready = await new Promise<{ port: number; hostToken?: string; workerPids?: number[] }>((resolve, reject) => {
    const onMessage = (m: { type: string; port: number; hostToken?: string; workerPids?: number[] }) => {
      if (m.type !== 'ready') return;
      child.off('message', onMessage).off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number | null) => reject(new Error(`origin process exited with ${code} before it was ready`));
    child.on('message', onMessage).once('exit', onExit);
  });
  return {
    child,
    pid: child.pid!,
    port: ready.port,
    hostToken: ready.hostToken,
    workerPids: ready.workerPids ?? [],
    watch: (broadcastId) =>
      new Promise((resolve) => {
        const on = (m: { type: string; ok: boolean }) => {
          if (m.type === 'watching') {
            child.off('message', on);
            resolve(m.ok);
          }
        };
        child.on('message', on);
        child.send({ type: 'watch', broadcast: broadcastId });
      }),
    onPart: (fn) => void partListeners.push(fn),
    whep: () =>
      new Promise((resolve) => {
        const on = (m: { type: string; sessions: number; connected: number; ended: Record<string, number> }) => {
          if (m.type === 'whep') {
            child.off('message', on);
            resolve({ sessions: m.sessions, connected: m.connected, ended: m.ended });
          }
        };
        child.on('message', on);
        child.send({ type: 'whep' });
      }),
    mark: () => void child.send({ type: 'mark' }),
    stats: () =>
      new Promise((resolve) => {
        const on = (m: { type: string; cpu: number; rss: number; heap: number }) => {
          if (m.type === 'stats') {
            child.off('message', on);
            resolve(m);
          }
        };
        child.on('message', on);
        child.send({ type: 'stats' });
      }),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.send({ type: 'stop' });
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
