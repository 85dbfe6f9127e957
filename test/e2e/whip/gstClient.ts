import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ChildHandle } from '../../helpers/processes.ts';
import type { VethNamespace } from '../../helpers/netns.ts';

/** Debian's Python, which has python3-gi (a pyenv `python3` first on PATH does not). */
export const SYSTEM_PYTHON = '/usr/bin/python3';
const script = fileURLToPath(new URL('./gstWhipClient.py', import.meta.url));

/** One line the client reports on stdout (see gstWhipClient.py). */
export interface GstClientEvent {
  event: 'offer' | 'answer' | 'refused' | 'connection-state' | 'deleted' | 'error' | 'ready';
  [field: string]: unknown;
}

/**
 * Why the GStreamer client cannot run here (no system Python, no gi or GStreamer
 * typelibs, elements missing), or undefined when it can. Any other failure of
 * the check (a broken script) throws: the tests fail rather than skip.
 */
export async function gstreamerUnavailable(): Promise<string | undefined> {
  const packages = 'python3-gi, gir1.2-gst-plugins-bad-1.0, gstreamer1.0-plugins-bad, gstreamer1.0-nice';
  if (!existsSync(SYSTEM_PYTHON)) return `${SYSTEM_PYTHON} is not installed (${packages})`;
  try {
    const { stdout } = await promisify(execFile)(SYSTEM_PYTHON, [script, '--check'], { timeout: 60_000 });
    const last = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as GstClientEvent;
    if (last.event !== 'ready') throw new Error(`the GStreamer client's check said ${stdout.trim()}`);
    return undefined;
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    // Exit 4: elements missing (reported as an event).
    if (e.code === 4) return `GStreamer elements are missing (${packages}): ${e.stdout?.trim()}`;
    // No gi, or no typelib for Gst/GstWebRTC/GstSdp: ImportError or gi's ValueError "Namespace … not available".
    const missing = /^(ModuleNotFoundError|ImportError|ValueError): .*(gi|Namespace .* not available).*$/m.exec(e.stderr ?? '');
    if (missing) return `${SYSTEM_PYTHON} cannot load GStreamer through gi (${packages}): ${missing[0]}`;
    throw err;
  }
}

/**
 * The GStreamer webrtcbin WHIP client (gstWhipClient.py) in a network
 * namespace, publishing test video and audio to `url`. Its events can be
 * awaited; stop() sends SIGTERM (the client DELETEs its session and exits).
 */
export class GstWhipClient {
  readonly handle: ChildHandle;
  readonly events: GstClientEvent[] = [];
  readonly #waiters = new Set<() => void>();
  /** Its stdout ended: every event it wrote has been read (the exit alone may come before the last lines). */
  #ended = false;

  constructor(opts: { ns: VethNamespace; url: string; token: string; video: 'vp8' | 'h264'; logFile: string }) {
    const { command, args } = opts.ns.wrap(SYSTEM_PYTHON, [script, '--url', opts.url, '--token', opts.token, '--video', opts.video]);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.handle = new ChildHandle(`gst-whip-${opts.video}`, child, opts.logFile);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      let event: GstClientEvent;
      try {
        event = JSON.parse(line) as GstClientEvent;
      } catch {
        return;
      }
      this.events.push(event);
      for (const w of this.#waiters) w();
    });
    lines.once('close', () => {
      this.#ended = true;
      for (const w of this.#waiters) w();
    });
  }

  /** Resolves with the first event (seen or to come) that `match` accepts; rejects when the client exits first or after `timeoutMs`. */
  waitFor(match: (e: GstClientEvent) => boolean, what: string, timeoutMs: number): Promise<GstClientEvent> {
    return new Promise((resolve, reject) => {
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        fn();
      };
      const check = () => {
        const found = this.events.find(match);
        if (found) return done(() => resolve(found));
        if (this.#ended) done(() => reject(new Error(`the GStreamer client exited before ${what}: ${this.describe()}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no ${what} from the GStreamer client in ${timeoutMs} ms: ${this.describe()}`))), timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  /** Its events so far (SDP left out) and the last lines of its output. */
  describe(): string {
    const events = this.events.map((e) => JSON.stringify({ ...e, ...(e.sdp ? { sdp: '…' } : {}) }));
    return `events ${events.join(' ')}\n${this.handle.tail(40)}`;
  }

  /** SIGTERM (the client DELETEs its session, then exits), SIGKILL after `graceMs`. */
  stop(graceMs = 15_000): ReturnType<ChildHandle['stop']> {
    return this.handle.stop('SIGTERM', graceMs);
  }
}
