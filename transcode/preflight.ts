import { spawn } from 'node:child_process';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { DependencyError, boundUdpPorts, errorMessage } from '../common/index.ts';

/** Checks that the FFmpeg binary exists and runs (`ffmpeg -version`); resolves with its version line. */
export function checkFfmpeg(ffmpegPath: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let settled = false;
    const fail = (message: string, cause?: unknown) => {
      if (settled) return;
      settled = true;
      reject(new DependencyError('ffmpeg-missing', message, { cause }));
    };
    let child;
    try {
      child = spawn(ffmpegPath, ['-hide_banner', '-version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    } catch (err) {
      return fail(`FFmpeg binary "${ffmpegPath}" cannot be run: ${errorMessage(err)}`, err);
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(`FFmpeg binary "${ffmpegPath}" did not answer -version within ${timeoutMs} ms`);
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', (err) => {
      clearTimeout(timer);
      fail(`FFmpeg binary "${ffmpegPath}" not found or not executable (transcode.ffmpegPath): ${errorMessage(err)}`, err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (settled) return;
      if (code !== 0 || !out.startsWith('ffmpeg version')) return fail(`"${ffmpegPath}" is not a working FFmpeg (exit ${code})`);
      settled = true;
      resolve(out.split('\n')[0] ?? '');
    });
  });
}

const verifiedBinaries = new Map<string, Promise<string>>();

/**
 * Checks an FFmpeg binary once per process (`-version`); a failed check is
 * forgotten so the next start checks again. Callers may warm it at start-up so
 * the first broadcast does not pay for it (on a loaded machine the check alone
 * can take seconds).
 */
export function verifyFfmpeg(ffmpegPath: string): Promise<string> {
  let check = verifiedBinaries.get(ffmpegPath);
  if (!check) {
    check = checkFfmpeg(ffmpegPath);
    verifiedBinaries.set(ffmpegPath, check);
    check.catch(() => verifiedBinaries.delete(ffmpegPath));
  }
  return check;
}

/** Checks that the packager's HTTP ingest accepts TCP connections. */
export function checkReachable(url: string, timeoutMs = 2000): Promise<void> {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port });
    const fail = (reason: string) => {
      socket.destroy();
      reject(new DependencyError('packager-unreachable', `packager ingest ${u.origin} unreachable: ${reason}`));
    };
    socket.setTimeout(timeoutMs, () => fail(`no connection within ${timeoutMs} ms`));
    socket.once('error', (err) => fail(errorMessage(err)));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
  });
}

/**
 * Resolves once every port is bound (FFmpeg listens for RTP), read from /proc
 * without touching the sockets (binding to test would race FFmpeg's own bind).
 * Polls every `intervalMs` until `signal` aborts; resolves at once without /proc.
 */
export async function waitUdpBound(ports: readonly number[], signal: AbortSignal, intervalMs = 20): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    const bound = await boundUdpPorts();
    if (!bound || ports.every((p) => bound.has(p))) return;
    await delay(intervalMs, undefined, { signal });
  }
}
