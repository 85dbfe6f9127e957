import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A free TCP port on loopback (the OS picks it; closed again at once). */
export async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** How a stop ended: the exit, and whether it took a SIGKILL. */
export type StopResult = { code: number | null; signal: NodeJS.Signals | null; killed: boolean };

/** Lines of output kept in memory (the whole output is in the log file). */
const KEPT_LINES = 2000;

/**
 * A child process whose output goes to a file, with its last lines kept for
 * assertions and awaitable (`waitForLine`), and an awaited, bounded stop.
 */
export class ChildHandle {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #stopping: Promise<StopResult> | undefined;
  readonly #lines: string[] = [];
  readonly #lineWaiters = new Set<(line: string) => void>();
  /** Both output streams ended: every line the process wrote has been read. */
  readonly #outputEnded: Promise<unknown>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    const out = createWriteStream(logFile);
    const streams = [child.stdout, child.stderr].filter((s) => s !== null);
    for (const stream of streams) {
      stream.pipe(out);
      createInterface({ input: stream }).on('line', (line) => {
        this.#lines.push(line);
        if (this.#lines.length > KEPT_LINES) this.#lines.shift();
        for (const w of this.#lineWaiters) w(line);
      });
    }
    this.#outputEnded = Promise.all(streams.map((s) => once(s, 'close').catch(() => {})));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last lines of the process's output, for failure messages. */
  tail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no output)';
    }
  }

  /**
   * The last lines of output (stdout and stderr) kept in memory; once the process
   * has exited, awaits the end of its output first (bounded: a grandchild may hold the pipe).
   */
  async lines(): Promise<string[]> {
    if (!this.running) await Promise.race([this.#outputEnded, new Promise((r) => setTimeout(r, 5000).unref())]);
    return [...this.#lines];
  }

  /**
   * Resolves with the match of the first output line (seen or to come) that
   * `pattern` matches; rejects when the process exits first or after `timeoutMs`.
   */
  waitForLine(pattern: RegExp, what: string, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const seen = this.#lines.map((l) => pattern.exec(l)).find((m) => m !== null);
      if (seen) return resolve(seen);
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.#lineWaiters.delete(onLine);
        fn();
      };
      const onLine = (line: string) => {
        const m = pattern.exec(line);
        if (m) done(() => resolve(m));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`${this.name} printed no ${what} within ${timeoutMs} ms:\n${this.#lines.slice(-30).join('\n')}`))), timeoutMs);
      this.#lineWaiters.add(onLine);
      void this.exited.then(async (e) => {
        await this.lines();
        done(() => reject(new Error(`${this.name} exited before ${what} (${JSON.stringify(e)}):\n${this.#lines.slice(-30).join('\n')}`)));
      });
    });
  }

  /**
   * Sends `signal`, waits up to `graceMs` for the exit, then SIGKILL. Resolves
   * with the exit; a second call gets the first call's answer.
   */
  stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000): Promise<StopResult> {
    this.#stopping ??= this.#stop(signal, graceMs);
    return this.#stopping;
  }

  async #stop(signal: NodeJS.Signals, graceMs: number): Promise<StopResult> {
    if (!this.running) return { ...this.#exit!, killed: false };
    this.child.kill(signal);
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
    if ((await Promise.race([this.exited, timer])) === 'timeout') {
      this.child.kill('SIGKILL');
      return { ...(await this.exited), killed: true };
    }
    return { ...(await this.exited), killed: false };
  }
}

/** Starts `node --import tsx main.ts` (the product's entry) with `env` on top of a minimal environment. */
export function spawnStagecast(name: string, env: Record<string, string>, logFile: string): ChildHandle {
  const child = spawn(process.execPath, ['--import', 'tsx', 'main.ts'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new ChildHandle(name, child, logFile);
}

/**
 * Resolves once `url` answers 2xx; rejects as soon as the process exits, or
 * after `timeoutMs`, with the process's last output. Polls: there is no event
 * across processes to wait on.
 */
export async function waitForHttp(url: string, proc: ChildHandle, timeoutMs = 60_000, headers: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`${proc.name} exited before ${url} answered: ${JSON.stringify(await proc.exited)}\n${proc.tail()}`);
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer in ${timeoutMs} ms (${last})\n${proc.tail()}`);
}
