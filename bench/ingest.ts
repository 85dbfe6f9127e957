/**
 * `npm run bench:ingest`: the cost of framing FFmpeg's CMAF in the packager's
 * reader, the one place the stream is framed. Real FFmpeg output (720p, 3 Mb/s,
 * 200 ms fragments) is fed to `CmafReader` in rounds, three ways:
 *  - whole boxes, one per write: what a framing stage before the reader handed it
 *    (the baseline: the reader's own cost with no straddling boxes);
 *  - 64 KB chunks: what an HTTP request body gives;
 *  - 1,460-byte chunks: one TCP segment each, the worst case.
 * Prints MB/s per way and the ratio to the baseline, median over the rounds.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CmafReader } from '../packager/cmaf.ts';

const ROUNDS = 7;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-ingest-'));
const file = path.join(tmp, 'video.mp4');
execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-t', '20', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '3000k', '-g', '30', '-movflags', '+frag_keyframe+empty_moov+default_base_moof+cmaf', '-frag_duration', '200000', '-f', 'mp4', '-y', file]);
const stream = readFileSync(file);
rmSync(tmp, { recursive: true, force: true });

/** The stream cut at its top-level box edges. */
function boxes(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < buf.length; ) {
    const size = buf.readUInt32BE(off);
    out.push(buf.subarray(off, off + size));
    off += size;
  }
  return out;
}

function chunks(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < buf.length; off += size) out.push(buf.subarray(off, off + size));
  return out;
}

const ways: Record<string, Buffer[]> = { 'whole boxes': boxes(stream), '64 KB chunks': chunks(stream, 64 * 1024), '1460 B chunks': chunks(stream, 1460) };

/** Streams read per measurement: long enough (about 150 MB) that a GC pause is not the figure. */
const REPEATS = 20;

/** MB/s over REPEATS streams, each through a new reader; checks the fragments came out. */
function pass(writes: Buffer[]): number {
  const t0 = performance.now();
  for (let i = 0; i < REPEATS; i++) {
    const reader = new CmafReader({ maxBoxBytes: 16 << 20 });
    let fragments = 0;
    for (const w of writes) for (const ev of reader.push(w)) if (ev.type === 'fragment') fragments++;
    reader.end();
    if (fragments < 90) throw new Error(`only ${fragments} fragments read`);
  }
  const ms = performance.now() - t0;
  return (REPEATS * stream.length) / 1e6 / (ms / 1000);
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const results = new Map<string, number[]>(Object.keys(ways).map((k) => [k, []]));
for (let r = 0; r < ROUNDS + 1; r++) {
  // Alternating order each round; round 0 warms up and is not counted.
  for (const [name, writes] of r % 2 ? Object.entries(ways).reverse() : Object.entries(ways)) {
    const mbps = pass(writes);
    if (r > 0) results.get(name)!.push(mbps);
  }
}
const base = median(results.get('whole boxes')!);
console.log(`CmafReader on ${(stream.length / 1e6).toFixed(1)} MB of 720p CMAF (${ways['whole boxes']!.length} boxes), median of ${ROUNDS} rounds:`);
for (const [name, runs] of results) {
  const m = median(runs);
  console.log(`  ${name.padEnd(14)} ${m.toFixed(0).padStart(6)} MB/s  ${(m / base).toFixed(2)}× the whole-box baseline`);
}
