// The app as an end-to-end test talks to it: its URL and control API, and, when
// it runs in this process, the app itself (its objects and events, awaited
// instead of polling the API). A product process (`node --import tsx main.ts`,
// role all or one of the split roles) is one too, with its child handle.
import path from 'node:path';
import type { RunningApp } from '../../../app/server.ts';
import { api, apiCall, TEST_ADMIN_TOKEN, type ApiAnswer } from '../app.ts';
import { freeTcpPort, spawnStagecast, waitForHttp, type ChildHandle } from '../processes.ts';

export interface AppClient {
  /** Base URL of its HTTP server. */
  readonly url: string;
  /** Calls its control API with the admin token. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>>;
  /** The app itself, when it runs in this process. */
  readonly local?: RunningApp;
}

export function localClient(app: RunningApp): AppClient {
  return { url: app.url, api: (method, p, body) => api(app, method, p, body), local: app };
}

export interface StagecastProcess extends AppClient {
  readonly proc: ChildHandle;
}

export interface ProcessOptions {
  /** Names the child and its log file (`<name>.log` in `logDir`). */
  name: string;
  /** STAGECAST_* settings beyond the ones every test process has (loopback, a port, the admin token, no initial stage, info logs). */
  env: Record<string, string>;
  logDir: string;
  /** Default TEST_ADMIN_TOKEN. */
  adminToken?: string;
  /**
   * How it is known to be up: `healthz` (default) on a free port picked here;
   * `line`: on port 0, from the "is running at" line it prints, as `npm start` users read it.
   */
  ready?: 'healthz' | 'line';
  readyTimeoutMs?: number;
}

/** Starts the product's entry (`main.ts`) and resolves once it serves. */
export async function startStagecastProcess(opts: ProcessOptions): Promise<StagecastProcess> {
  const adminToken = opts.adminToken ?? TEST_ADMIN_TOKEN;
  const port = opts.ready === 'line' ? 0 : await freeTcpPort();
  const proc = spawnStagecast(
    opts.name,
    {
      STAGECAST_HTTP_HOST: '127.0.0.1',
      STAGECAST_HTTP_PORT: String(port),
      STAGECAST_ADMIN_TOKEN: adminToken,
      STAGECAST_INITIAL_STAGE: '',
      STAGECAST_LOG_LEVEL: 'info',
      ...opts.env,
    },
    path.join(opts.logDir, `${opts.name}.log`),
  );
  const timeoutMs = opts.readyTimeoutMs ?? 90_000;
  let url = `http://127.0.0.1:${port}`;
  try {
    if (opts.ready === 'line') url = (await proc.waitForLine(/^stagecast(?: \([^)]*\))? is running at (\S+)/, 'an "is running at" line', timeoutMs))[1]!;
    else await waitForHttp(`${url}/healthz`, proc, timeoutMs);
  } catch (err) {
    await proc.stop('SIGKILL', 5000);
    throw err;
  }
  return { url, proc, api: (method, p, body) => apiCall(url, adminToken, method, p, body) };
}
