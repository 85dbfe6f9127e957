// The end-to-end harness: one per test file. It starts the app (in this process,
// role all; or product processes, role all or the split roles), publishes hosts
// from Chromium (the fake camera, the host page's clock, or a WHIP client),
// opens viewers of each kind (our watch page, plain hls.js, dash.js, Shaka, the
// WHEP page), and tracks everything it started so that close() tears it all
// down in order: viewers, hosts, browsers, servers, the app and its processes,
// what the app depends on (a store), then temporary directories. close() is safe
// twice and goes on past a failing step (it throws the first failure at the end).
// Waits are awaited events where the app runs here, else conditions polled with
// a deadline and a message; never bare sleeps.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { AppHooks, RunningApp } from '../../../app/server.ts';
import type { Stage } from '../../../ingest/index.ts';
import { startTestApp, waitForPlaylist, type TestAppOverrides } from '../app.ts';
import { launchChromium } from '../browser.ts';
import { startPlainPlayers, type PlainPlayer, type PlainPlayerServer } from '../plainPlayers.ts';
import { until, whenEvent } from '../wait.ts';
import { localClient, startStagecastProcess, type AppClient, type ProcessOptions, type StagecastProcess } from './appClient.ts';
import { publishWhip, serveWhipClientPage, type WhipClientPage, type WhipPublisher } from './whipClient.ts';

export type { AppClient, StagecastProcess, WhipPublisher };

/** When each teardown step runs, in this order (within a phase, the newest first). */
const PHASES = ['viewer', 'host', 'browser', 'server', 'app', 'backend', 'dir'] as const;
export type Phase = (typeof PHASES)[number];

export interface E2eOptions {
  /** The app in this process (role all) with these overrides of the test config; false: none (a test that starts product processes). */
  app?: TestAppOverrides | false;
  hooks?: AppHooks;
}

/** What creating a stage answers. */
export type CreatedStage = { id: string; hostToken: string; hostUrl: string };

export interface HostOptions {
  /** The stage's id and a host link for it (from createStage or the host-tokens API). */
  stage: string;
  hostUrl: string;
  /** What the host page sends: the fake camera (default) or the clock it paints (`?source=clock`). */
  source?: 'camera' | 'clock';
  /** More of the host page's query (`codec=video/H264`, say). */
  query?: string;
  /** Default: the app this harness started. */
  client?: AppClient;
  /** Default: the shared Chromium. */
  browser?: Browser;
  /** When the host counts as published (in-process apps; default: the stage has a video and an audio producer). */
  published?: (stage: Stage) => boolean;
  /** Default 60 s. */
  timeoutMs?: number;
}

export type ViewerKind = 'watch' | PlainPlayer | 'whep';

export interface ViewerOptions {
  kind: ViewerKind;
  /** watch: the stage's stable link (`?stage=`) or one broadcast (`?broadcast=`), with more query if given. */
  stage?: string;
  broadcast?: string;
  query?: string;
  /** hlsjs, dashjs, shaka: the manifest's URL; whep: the WHEP watch link; watch: a link instead of stage/broadcast. */
  url?: string;
  client?: AppClient;
  browser?: Browser;
  /** The page in a browser context of its own (its own HTTP connection pool). */
  context?: boolean;
  /** Runs on the page before it loads (listeners, init scripts). */
  init?: (page: Page) => unknown;
  /** Waits until it plays (the page's state `playing`, or a plain player's media time past 0), within this many ms. */
  playingWithinMs?: number;
}

/** Whether a stage's producers include a video and an audio one (a host's page publishing both). */
const hasAudioAndVideo = (producers: readonly { kind: string }[]) => producers.some((p) => p.kind === 'video') && producers.some((p) => p.kind === 'audio');

export async function startE2e(options: E2eOptions = {}): Promise<E2e> {
  const h = new E2e();
  try {
    if (options.app !== false) await h.startApp(options.app ?? {}, options.hooks);
  } catch (err) {
    await h.close().catch(() => {});
    throw err;
  }
  return h;
}

export class E2e {
  readonly #steps: { phase: Phase; what: string; run: () => unknown }[] = [];
  #closing: Promise<void> | undefined;
  #app: RunningApp | undefined;
  #browser: Promise<Browser> | undefined;
  #players: Promise<PlainPlayerServer> | undefined;
  #whipPage: Promise<WhipClientPage> | undefined;
  #logDir: string | undefined;

  /** The app in this process (the latest started). */
  get app(): RunningApp {
    if (!this.#app) throw new Error('this harness runs no app in this process');
    return this.#app;
  }

  /** The app in this process as a client. */
  get client(): AppClient {
    return localClient(this.app);
  }

  /** A teardown step for close(), in `phase`. Runs once. */
  defer(phase: Phase, what: string, run: () => unknown): void {
    this.#steps.push({ phase, what, run: once(run) });
  }

  /** Starts the app in this process (role all); it becomes `app`. */
  async startApp(overrides: TestAppOverrides = {}, hooks: AppHooks = {}): Promise<RunningApp> {
    const app = await startTestApp(overrides, hooks);
    this.#app = app;
    this.defer('app', 'the app', () => app.close());
    return app;
  }

  /** Closes the app in this process now (a test of what closing does, or a restart on the same store). */
  async closeApp(): Promise<void> {
    const app = this.#app;
    this.#app = undefined;
    if (app) await this.#runNow((s) => s.phase === 'app' && s.what === 'the app');
  }

  /** A product process (`main.ts`), stopped (SIGTERM, then SIGKILL) on close, and killed if this test process exits first. */
  async startProcess(opts: Omit<ProcessOptions, 'logDir'>): Promise<StagecastProcess> {
    const p = await startStagecastProcess({ ...opts, logDir: this.logDir() });
    // If the runner cancels this file (timeout), close() may not run: never leave a product process behind.
    const onExit = () => p.proc.running && p.proc.child.kill('SIGKILL');
    process.once('exit', onExit);
    this.defer('app', `process ${opts.name}`, async () => {
      await p.proc.stop('SIGTERM', 20_000);
      process.off('exit', onExit);
    });
    return p;
  }

  /** Where product processes write their logs (a temporary directory, kept with KEEP_TEST_DIR). */
  logDir(): string {
    this.#logDir ??= this.tempDir('stagecast-e2e-');
    return this.#logDir;
  }

  /** A fresh temporary directory, removed on close (kept, and named, when KEEP_TEST_DIR is set). */
  tempDir(prefix: string): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    this.defer('dir', dir, () => {
      if (process.env.KEEP_TEST_DIR) console.log(`kept ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    });
    return dir;
  }

  /** The Chromium pages open in unless told otherwise (launched on first use). */
  browser(): Promise<Browser> {
    this.#browser ??= this.launchBrowser();
    return this.#browser;
  }

  /** Another Chromium (its own fake camera and microphone files, say), closed on close. */
  async launchBrowser(extraArgs: string[] = []): Promise<Browser> {
    const b = await launchChromium(extraArgs);
    this.defer('browser', 'a browser', () => b.close().catch(() => {}));
    return b;
  }

  /** A page (a viewer's unless `role` says host), closed on close. */
  async newPage(opts: { browser?: Browser; context?: boolean; role?: 'viewer' | 'host' } = {}): Promise<Page> {
    const browser = opts.browser ?? (await this.browser());
    const page = opts.context ? await (await browser.newContext()).newPage() : await browser.newPage();
    this.defer(opts.role ?? 'viewer', 'a page', () => (opts.context ? page.context().close() : page.close()).catch(() => {}));
    return page;
  }

  /** Creates a stage through the control API (201, or the failure says what came back). */
  async createStage(id: string, body: Record<string, unknown> = {}, client: AppClient = this.client): Promise<CreatedStage> {
    const created = await client.api<CreatedStage>('POST', '/stages', { id, ...body });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body;
  }

  /**
   * Opens the host page that goes live at once, and resolves once the stage has
   * its media: awaited on the stage's `producer` events in this process, read
   * from the control API of another.
   */
  async publishHost(opts: HostOptions): Promise<Page> {
    const client = opts.client ?? this.client;
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const what = `the host page publishing on ${opts.stage}`;
    const page = await this.newPage({ role: 'host', ...(opts.browser ? { browser: opts.browser } : {}) });
    const query = ['autostart=1', ...(opts.source === 'clock' ? ['source=clock'] : []), ...(opts.query ? [opts.query] : [])].join('&');
    const stage = client.local?.sfu.getStage(opts.stage);
    const published = stage
      ? whenEvent(stage, 'producer', () => (opts.published ?? ((s: Stage) => hasAudioAndVideo(s.producers)))(stage), what, timeoutMs)
      : undefined;
    await page.goto(opts.hostUrl.replace('/host/?', `/host/?${query}&`));
    if (published) await published;
    else await until(what, async () => hasAudioAndVideo((await client.api<{ producers: { kind: string }[] }>('GET', `/stages/${opts.stage}`)).body.producers), timeoutMs);
    return page;
  }

  /** Takes the stage live (201, or the failure says what came back); resolves with the answer. */
  async goLive<T = { broadcast: { id: string; state: string } }>(stageId: string, client: AppClient = this.client): Promise<T> {
    const live = await client.api<T>('POST', `/stages/${stageId}/live`);
    assert.equal(live.status, 201, JSON.stringify(live.body));
    return live.body;
  }

  /** Waits until the broadcast (or the stage's stable link) serves its multivariant playlist. */
  waitForPlaylist(broadcast: string, timeoutMs = 30_000, client: AppClient = this.client): Promise<void> {
    return waitForPlaylist(client, broadcast, timeoutMs);
  }

  /** The pages of players we did not write, on an origin of their own (started on first use). */
  players(): Promise<PlainPlayerServer> {
    this.#players ??= startPlainPlayers().then((p) => {
      this.defer('server', 'the plain players', () => p.close());
      return p;
    });
    return this.#players;
  }

  /** Opens a viewer of `kind` and, if asked, waits until it plays. */
  async openViewer(opts: ViewerOptions): Promise<Page> {
    let url: string;
    if (opts.kind === 'watch' && !opts.url) {
      const which = opts.stage !== undefined ? `stage=${opts.stage}` : `broadcast=${opts.broadcast}`;
      url = `${(opts.client ?? this.client).url}/watch/?${which}${opts.query ? `&${opts.query}` : ''}`;
    } else if (!opts.url) throw new TypeError(`a ${opts.kind} viewer needs its url`);
    else if (opts.kind === 'watch' || opts.kind === 'whep') url = opts.url;
    else url = (await this.players()).pageUrl(opts.kind, opts.url);
    const page = await this.newPage({ ...(opts.browser ? { browser: opts.browser } : {}), ...(opts.context ? { context: true } : {}) });
    await opts.init?.(page);
    await page.goto(url);
    if (opts.playingWithinMs !== undefined) {
      const playing = opts.kind === 'watch' || opts.kind === 'whep' ? "document.getElementById('state')?.dataset.state === 'playing'" : 'window.__player && window.__player.sample().currentTime > 0';
      // A string: the test's TypeScript build would wrap a function's inner names in a `__name` call the page lacks.
      await page.waitForFunction(playing, undefined, { timeout: opts.playingWithinMs, polling: 200 });
    }
    return page;
  }

  /**
   * Publishes from a published WHIP client in Chromium, served on an origin of
   * its own (so the WHIP requests are cross-origin); resolves once the client
   * has its resource (Location).
   */
  async publishWhip(opts: { endpoint: string; token: string; video?: string; browser?: Browser; init?: (page: Page) => unknown }): Promise<WhipPublisher> {
    this.#whipPage ??= serveWhipClientPage().then((p) => {
      this.defer('server', 'the WHIP client page', () => p.close());
      return p;
    });
    const { origin } = await this.#whipPage;
    const page = await this.newPage({ role: 'host', ...(opts.browser ? { browser: opts.browser } : {}) });
    await opts.init?.(page);
    return publishWhip(page, origin, opts);
  }

  /** Tears down everything this harness started, in phase order. Safe twice. */
  close(): Promise<void> {
    this.#closing ??= this.#runNow(() => true);
    return this.#closing;
  }

  /** Runs (and forgets) the steps `pick` selects, phase by phase, the newest first within a phase; throws the first failure after all ran. */
  async #runNow(pick: (s: { phase: Phase; what: string }) => boolean): Promise<void> {
    let failure: unknown;
    for (const phase of PHASES) {
      const steps = this.#steps.filter((s) => s.phase === phase && pick(s)).reverse();
      for (const s of steps) {
        this.#steps.splice(this.#steps.indexOf(s), 1);
        try {
          await s.run();
        } catch (err) {
          failure ??= new Error(`closing ${s.what} failed`, { cause: err });
        }
      }
    }
    if (failure) throw failure;
  }
}

function once(run: () => unknown): () => Promise<unknown> {
  let done: Promise<unknown> | undefined;
  return () => (done ??= Promise.resolve().then(run));
}
