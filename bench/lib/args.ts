/** Command-line options of the benchmarks: `--name value`. */
export function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** A non-negative number option, `d` when absent; a clear error when it is not one. */
export function numArg(name: string, d: number): number {
  const v = arg(name);
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new TypeError(`--${name} must be a non-negative number, not ${v}`);
  return n;
}
