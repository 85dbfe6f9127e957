/**
 * Few named errors. Each says who is to blame through its `code` family:
 * bad input from a client (`InputError`), a use after close (`InvalidStateError`),
 * an unavailable dependency (`DependencyError`: storage, FFmpeg, the worker).
 */

/** Something a client sent is wrong. Maps to a 4xx answer. */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number = 400,
  ) {
    super(message);
  }
}

/** An object was used after it was closed, or in the wrong state. */
export class InvalidStateError extends Error {
  override readonly name = 'InvalidStateError';
  constructor(message: string) {
    super(message);
  }
}

/** Something we depend on (a binary, a store, a worker) failed or is missing. */
export class DependencyError extends Error {
  override readonly name = 'DependencyError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
