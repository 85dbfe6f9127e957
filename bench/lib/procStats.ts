/**
 * CPU time and memory of processes read from /proc (Linux), so each process
 * of a benchmark (origin, load generators, FFmpeg) is measured on its own, and
 * the machine's total CPU use, so a reader can see when the cores were full.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

const CLK_TCK = 100;

/** User + system CPU seconds of a process (0 when it is gone). */
export function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime
  } catch {
    return 0;
  }
}

/** Resident set size of a process in bytes (0 when it is gone). */
export function procRssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Busy and total jiffies of all cores together. */
function machineJiffies(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

export interface ProcSeries {
  /** Per sample: CPU over the interval as a fraction of one core. */
  cpu: number[];
  rss: number[];
}

/**
 * Samples named processes every `intervalMs`: CPU (fraction of one core over
 * each interval) and RSS, plus the machine's CPU use (fraction of all cores)
 * and load average. `window()` restarts the totals; `summary()` reports them.
 */
export class ProcSampler {
  readonly #pids = new Map<string, number[]>();
  readonly series = new Map<string, ProcSeries>();
  readonly machine: number[] = [];
  readonly load: number[] = [];
  #last = new Map<string, number>();
  #lastMachine = machineJiffies();
  #lastAt = performance.now();
  #startCpu = new Map<string, number>();
  #startMachine = machineJiffies();
  #startAt = performance.now();
  #timer: NodeJS.Timeout | undefined;

  /** Tracks a group of processes (their CPU and RSS are summed) under `name`. */
  track(name: string, pids: number[]): void {
    this.#pids.set(name, pids);
    this.series.set(name, { cpu: [], rss: [] });
    this.#last.set(name, this.#cpu(name));
    this.#startCpu.set(name, this.#cpu(name));
  }

  #cpu(name: string): number {
    return (this.#pids.get(name) ?? []).reduce((a, pid) => a + procCpuSeconds(pid), 0);
  }

  start(intervalMs = 1000): void {
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  /** Restarts the totals and series (call at the start of the measured window). */
  window(): void {
    for (const name of this.#pids.keys()) {
      this.#startCpu.set(name, this.#cpu(name));
      this.series.set(name, { cpu: [], rss: [] });
    }
    this.machine.length = 0;
    this.load.length = 0;
    this.#startMachine = machineJiffies();
    this.#startAt = performance.now();
  }

  #sample(): void {
    const now = performance.now();
    const secs = (now - this.#lastAt) / 1000;
    for (const [name, pids] of this.#pids) {
      const cpu = this.#cpu(name);
      const s = this.series.get(name)!;
      s.cpu.push((cpu - (this.#last.get(name) ?? cpu)) / secs);
      s.rss.push(pids.reduce((a, pid) => a + procRssBytes(pid), 0));
      this.#last.set(name, cpu);
    }
    const m = machineJiffies();
    this.machine.push((m.busy - this.#lastMachine.busy) / Math.max(1, m.total - this.#lastMachine.total));
    this.load.push(os.loadavg()[0]!);
    this.#lastMachine = m;
    this.#lastAt = now;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#sample();
  }

  /** Since window(): mean CPU (fraction of one core), the busiest sample, RSS mean and max per name; machine use (fraction of all cores). */
  summary(): {
    procs: Record<string, { cpuMean: number; cpuMax: number; rssMeanBytes: number; rssMaxBytes: number }>;
    machineCpuMean: number;
    cores: number;
    loadAvg1Max: number;
  } {
    const secs = (performance.now() - this.#startAt) / 1000;
    const procs: Record<string, { cpuMean: number; cpuMax: number; rssMeanBytes: number; rssMaxBytes: number }> = {};
    for (const name of this.#pids.keys()) {
      const s = this.series.get(name)!;
      procs[name] = {
        cpuMean: (this.#cpu(name) - (this.#startCpu.get(name) ?? 0)) / secs,
        cpuMax: Math.max(0, ...s.cpu),
        rssMeanBytes: s.rss.length ? s.rss.reduce((a, b) => a + b, 0) / s.rss.length : 0,
        rssMaxBytes: Math.max(0, ...s.rss),
      };
    }
    const m = machineJiffies();
    return {
      procs,
      machineCpuMean: (m.busy - this.#startMachine.busy) / Math.max(1, m.total - this.#startMachine.total),
      cores: os.cpus().length,
      loadAvg1Max: Math.max(0, ...this.load),
    };
  }
}
