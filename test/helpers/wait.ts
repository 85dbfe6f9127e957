// Waiting in tests: for an event where the code under test emits one, else for
// a condition read again and again, always with a deadline and a message that
// says what was awaited (and, where given, what was seen instead).
import type { TypedEmitter } from '../../common/index.ts';

export interface UntilOptions {
  /** Between reads (default 200 ms). */
  intervalMs?: number;
  /** What the failure message adds: what is seen instead. */
  describe?: () => string | Promise<string>;
}

/**
 * Reads `read` until it gives a value other than undefined, null or false, and
 * resolves with it; throws `timed out waiting for <what>` after `timeoutMs`.
 * For conditions across processes or in a page, where no event can be awaited.
 */
export async function until<T>(what: string, read: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs: number, options: UntilOptions = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) {
      const seen = options.describe ? `; ${await options.describe()}` : '';
      throw new Error(`timed out waiting for ${what} (${timeoutMs} ms)${seen}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 200));
  }
}

/**
 * Resolves once `holds()` is true: at once if it is, else at the first `event`
 * of `emitter` after which it is. Rejects after `timeoutMs`, saying what.
 */
export async function whenEvent<K extends string>(
  emitter: Pick<TypedEmitter<Record<K, never[]>>, 'waitFor'>,
  event: K,
  holds: () => boolean,
  what: string,
  timeoutMs: number,
): Promise<void> {
  if (holds()) return;
  const signal = AbortSignal.timeout(timeoutMs);
  await emitter.waitFor(event, { filter: () => holds(), signal }).catch((err: unknown) => {
    throw signal.aborted ? new Error(`timed out waiting for ${what} (${timeoutMs} ms)`) : err;
  });
}
