/**
 * The clock code of the host page's `?source=clock`: the sender's clock
 * (epoch ms) as blocks that survive compression and scaling, for glass-to-glass
 * latency measurements (bench/latency.ts reads it back from decoded frames).
 * The layout is an 8 × 6 grid of equal cells over the whole 640 × 360 frame,
 * white = 1, black = 0, most significant bit first, row by row:
 *   row 0     guard 1 0 1 1 0 0 1 0 (asymmetric: a misplaced read fails it)
 *   rows 1–4  the clock in ms, modulo 2^32
 *   row 5     CRC-8 (polynomial 0x07) of those 4 bytes, big-endian
 * The reader takes the nearest epoch ms with those low 32 bits.
 */
export const CLOCK_GRID = { cols: 8, rows: 6, guard: [1, 0, 1, 1, 0, 0, 1, 0] } as const;

function crc8(bytes: readonly number[]): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/** The grid's cells (row-major, 1 = white) for an epoch ms. */
export function clockCells(epochMs: number): number[] {
  const v = Math.floor(epochMs) % 2 ** 32;
  const bytes = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  const bits = (b: number) => Array.from({ length: 8 }, (_, i) => (b >> (7 - i)) & 1);
  return [...CLOCK_GRID.guard, ...bytes.flatMap(bits), ...bits(crc8(bytes))];
}

/** The painted epoch ms from the cells' luma (row-major, 0–255), or undefined when the frame carries no valid code. */
export function decodeCells(luma: readonly number[], nowMs: number): number | undefined {
  const bits: number[] = [];
  for (const l of luma) {
    if (l > 80 && l < 176) return undefined; // too grey to call
    bits.push(l >= 128 ? 1 : 0);
  }
  if (CLOCK_GRID.guard.some((g, i) => bits[i] !== g)) return undefined;
  const byte = (k: number) => bits.slice(8 * k, 8 * k + 8).reduce((a, b) => (a << 1) | b, 0);
  const bytes = [byte(1), byte(2), byte(3), byte(4)];
  if (crc8(bytes) !== byte(5)) return undefined;
  const low = ((bytes[0]! << 24) >>> 0) + (bytes[1]! << 16) + (bytes[2]! << 8) + bytes[3]!;
  const wrap = 2 ** 32;
  // The nearest epoch ms at or before now with these low 32 bits.
  const back = (((Math.floor(nowMs) - low) % wrap) + wrap) % wrap;
  return Math.floor(nowMs) - back;
}
